import Foundation
import Logging
import Plans
import Synchronization

/// What a step sees while it runs.
public struct StepContext: Sendable {
    public let runId: String
    public let plan: Plan
    public let step: Step
    /// 1 for the first try, 2 for the first retry, ...
    public let attempt: Int
    public let secrets: SecretResolver
    public let logger: Logger
    public let output: StepOutput
    public let interaction: Interaction
    /// What the run's steps share (scratch servers, drill evidence).
    public let session: RunSession
    /// The catalog the run is recorded in (steps add their own records, e.g. mirror syncs).
    public let catalog: Catalog

    /// The string parameter `name`, with its secrets filled in.
    public func string(_ name: String) throws -> String? {
        guard let template = step.parameters[name]?.stringValue else { return nil }
        return try secrets.resolve(template)
    }
}

/// How a step may talk to the person running Lifeboat.
public struct Interaction: Sendable {
    /// `--yes`: approval gates pass without asking.
    public var assumeYes: Bool
    /// Whether standard input is a terminal a person can answer on.
    public var isTerminal: Bool

    public init(assumeYes: Bool = false, isTerminal: Bool = isatty(STDIN_FILENO) == 1) {
        self.assumeYes = assumeYes
        self.isTerminal = isTerminal
    }
}

/// A step's output: every line goes to the run log; the last few KiB are kept for the catalog and failure messages.
public final class StepOutput: Sendable {
    public static let tailLimit = 4096

    private struct State {
        var tail: [UInt8] = []
        var partialLine: [UInt8] = []
    }

    private let state = Mutex(State())
    private let logger: Logger
    private let redactor: Redactor

    public init(logger: Logger, redactor: Redactor) {
        self.logger = logger
        self.redactor = redactor
    }

    /// Adds raw output bytes.
    public func append(_ bytes: some Collection<UInt8>) {
        let lines: [String] = state.withLock { state in
            state.tail.append(contentsOf: bytes)
            if state.tail.count > 2 * Self.tailLimit { state.tail.removeFirst(state.tail.count - Self.tailLimit) }
            state.partialLine.append(contentsOf: bytes)
            var complete: [String] = []
            while let newline = state.partialLine.firstIndex(of: 10) {
                complete.append(String(decoding: state.partialLine[..<newline], as: UTF8.self))
                state.partialLine.removeSubrange(...newline)
            }
            return complete
        }
        for line in lines { logger.info("\(line)") }
    }

    /// Adds a line of text written by Lifeboat itself for this step (e.g. an approval decision).
    public func note(_ line: String) {
        append(Array((line + "\n").utf8))
    }

    /// Logs what is left of an unterminated last line.
    public func finish() {
        let rest = state.withLock { state -> String? in
            defer { state.partialLine.removeAll() }
            return state.partialLine.isEmpty ? nil : String(decoding: state.partialLine, as: UTF8.self)
        }
        if let rest { logger.info("\(rest)") }
    }

    /// The last `tailLimit` bytes of output, secrets redacted.
    public var tail: String {
        let bytes = state.withLock { $0.tail.suffix(Self.tailLimit) }
        var text = String(decoding: bytes, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return redactor.redact(text)
    }

    /// The last non-empty line of output, for one-line failure summaries.
    public var lastLine: String? {
        tail.split(separator: "\n").last.map(String.init)
    }
}
