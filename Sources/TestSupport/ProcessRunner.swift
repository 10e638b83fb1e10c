import Foundation

/// The result of a finished child process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs programs for tests and fixtures.
public enum ProcessRunner {
    /// Runs `arguments` to completion and captures its output. Throws if it cannot start.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           input: String? = nil, directory: String? = nil) throws -> ProcessResult {
        let process = try start(executable, arguments, environment: environment, directory: directory, input: input)
        return process.wait()
    }

    /// Starts a program; use `RunningProcess.wait()` to collect its output.
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                             directory: String? = nil, input: String? = nil) throws -> RunningProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
        return RunningProcess(process: process, stdout: out, stderr: err)
    }
}

/// A child process started by `ProcessRunner.start`. Its output is drained in the background so it never blocks.
public final class RunningProcess: @unchecked Sendable {
    // @unchecked: `Process` is not Sendable; the collectors below are joined only in `wait()`.
    public let process: Process
    private let stdoutData = Collector()
    private let stderrData = Collector()
    private let group = DispatchGroup()

    init(process: Process, stdout: Pipe, stderr: Pipe) {
        self.process = process
        for (pipe, collector) in [(stdout, stdoutData), (stderr, stderrData)] {
            group.enter()
            DispatchQueue.global().async { [group] in
                collector.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
    }

    public var pid: Int32 { process.processIdentifier }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    public func wait() -> ProcessResult {
        process.waitUntilExit()
        group.wait()
        return ProcessResult(status: process.terminationStatus,
                             stdout: String(decoding: stdoutData.data, as: UTF8.self),
                             stderr: String(decoding: stderrData.data, as: UTF8.self))
    }

    private final class Collector: @unchecked Sendable {
        // Written once by the reader, read after the group is joined.
        var data = Data()
    }
}
