import Foundation

/// Runs the built `lifeboat` binary the way cron or an operator would, with its own state directory.
public struct LifeboatCLI: Sendable {
    public let binary: String
    public let stateDirectory: String
    public var environment: [String: String]

    public init(stateDirectory: String) throws {
        binary = try Self.locateBinary()
        self.stateDirectory = stateDirectory
        var environment = ProcessInfo.processInfo.environment
        environment["LIFEBOAT_STATE_DIR"] = stateDirectory
        self.environment = environment
    }

    @discardableResult
    public func run(_ arguments: [String], input: String? = nil, directory: String? = nil) throws -> ProcessResult {
        try ProcessRunner.run(binary, arguments, environment: environment, input: input, directory: directory)
    }

    public func start(_ arguments: [String]) throws -> RunningProcess {
        try ProcessRunner.start(binary, arguments, environment: environment)
    }

    /// `LIFEBOAT_BIN`, else `lifeboat` beside the test bundle (SwiftPM builds it before the tests).
    public static func locateBinary() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["LIFEBOAT_BIN"] { return explicit }
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = folder.appendingPathComponent("lifeboat").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        throw FixtureError("cannot find the lifeboat binary next to \(CommandLine.arguments[0]); set LIFEBOAT_BIN")
    }
}
