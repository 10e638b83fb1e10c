import Foundation
import Logging
import Synchronization
import LifeboatCore

/// Where a run's log lines go: always the run's log file, and standard error from `stderrLevel` up.
/// Every line passes through the redactor first.
public final class RunLog: Sendable {
    public let path: String?
    private let file: Mutex<FileHandle?>
    private let fileLevel: Logger.Level
    private let stderrLevel: Logger.Level
    private let redactor: Redactor

    /// With `append`, an existing log (a resumed run's) is continued instead of replaced.
    public init(path: String?, fileLevel: Logger.Level = .info, stderrLevel: Logger.Level, redactor: Redactor,
                append: Bool = false) throws {
        self.path = path
        self.fileLevel = min(fileLevel, stderrLevel)
        self.stderrLevel = stderrLevel
        self.redactor = redactor
        var handle: FileHandle?
        if let path {
            if !(append && FileManager.default.fileExists(atPath: path)) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                else {
                    throw LifeboatError(.state, "cannot create log file \(path)")
                }
            }
            handle = FileHandle(forWritingAtPath: path)
            _ = try? handle?.seekToEnd()
        }
        file = Mutex(handle)
    }

    /// A logger whose lines go here, labelled with `label`.
    public func logger(_ label: String) -> Logger {
        var logger = Logger(label: label) { label in Handler(label: label, log: self) }
        logger.logLevel = fileLevel
        return logger
    }

    public func close() {
        file.withLock { handle in
            try? handle?.synchronize()
            try? handle?.close()
            handle = nil
        }
    }

    fileprivate func write(level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) {
        var text = message
        if !metadata.isEmpty {
            text += " " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
        text = redactor.redact(text)
        let stamp = Self.timestamp()
        if level >= fileLevel {
            let line = "\(stamp) \(level.rawValue.uppercased()) [\(label)] \(text)\n"
            file.withLock { handle in handle?.write(Data(line.utf8)) }
        }
        if level >= stderrLevel {
            let line = "lifeboat: \(level >= .error ? "error" : level.rawValue): \(text)\n"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private static func timestamp() -> String {
        Formatted.preciseTimestamp(Date())
    }

    struct Handler: LogHandler {
        let label: String
        let log: RunLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { _, new in new } }
            log.write(level: event.level, label: label, message: "\(event.message)", metadata: merged)
        }
    }
}
