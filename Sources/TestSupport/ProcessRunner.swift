import Foundation
import Postgres

/// The result of a finished child process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs programs for tests and fixtures.
///
/// Output goes to temporary files, not pipes: a long-lived grandchild (a PostgreSQL server started by `pg_ctl`, or
/// a process spawned while another test spawns its own) may inherit a pipe's write end and keep a reader waiting
/// for an end of file that never comes.
public enum ProcessRunner {
    /// Runs `arguments` to completion and captures its output. Throws if it cannot start.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           input: String? = nil, directory: String? = nil) throws -> ProcessResult {
        let process = try start(executable, arguments, environment: environment, directory: directory, input: input)
        return process.wait()
    }

    /// Starts a program; use `RunningProcess.wait()` to collect its output.
    ///
    /// Spawned with `posix_spawn` and reaped with `waitpid`: Foundation's `Process` on Linux notices an exit only
    /// when every inheritor of an internal descriptor has closed it, which a daemon started by the child never does.
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                             directory: String? = nil, input: String? = nil) throws -> RunningProcess {
        let capture = try TemporaryDirectory(prefix: "lifeboat-proc")
        let outPath = capture.file("stdout"), errPath = capture.file("stderr"), inPath = capture.file("stdin")
        guard FileManager.default.createFile(atPath: inPath, contents: Data((input ?? "").utf8)) else {
            capture.remove()
            throw FixtureError("cannot write \(inPath)")
        }

        // A working directory through `env -C` (posix_spawn_file_actions_addchdir_np is not visible to Swift here).
        let words = directory.map { ["/usr/bin/env", "-C", $0, executable] + arguments } ?? [executable] + arguments
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(words[0], Array(words.dropFirst()), environment: environment, stdin: inPath,
                                         stdout: outPath, stderr: errPath)
        } catch {
            capture.remove()
            throw FixtureError("\(error)")
        }
        return RunningProcess(pid: pid, capture: capture)
    }
}

/// A child process started by `ProcessRunner.start`.
public final class RunningProcess: Sendable {
    public let pid: Int32
    private let capture: TemporaryDirectory

    init(pid: Int32, capture: TemporaryDirectory) {
        self.pid = pid
        self.capture = capture
    }

    public func signal(_ number: Int32) { kill(pid, number) }

    /// What the process has written to standard error so far.
    public var stderrSoFar: String {
        (try? String(contentsOfFile: capture.file("stderr"), encoding: .utf8)) ?? ""
    }

    /// What the process has written to standard output so far.
    public var stdoutSoFar: String {
        (try? String(contentsOfFile: capture.file("stdout"), encoding: .utf8)) ?? ""
    }

    /// Waits for the process to end. The status is the exit code, or 128 + the signal that killed it.
    public func wait() -> ProcessResult {
        let exitStatus = ChildProcess.wait(pid)
        defer { capture.remove() }
        return ProcessResult(
            status: exitStatus,
            stdout: (try? String(contentsOfFile: capture.file("stdout"), encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: capture.file("stderr"), encoding: .utf8)) ?? "")
    }
}
