import Foundation

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

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        // A working directory through `env -C` (posix_spawn_file_actions_addchdir_np is not visible to Swift here).
        let words = directory.map { ["/usr/bin/env", "-C", $0, executable] + arguments } ?? [executable] + arguments
        let argv = words.map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + env { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, words[0], &actions, &attributes, argv, env)
        guard result == 0 else {
            capture.remove()
            throw FixtureError("cannot start \(executable): \(String(cString: strerror(result)))")
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

    /// What the process has written to standard output so far.
    public var stdoutSoFar: String {
        (try? String(contentsOfFile: capture.file("stdout"), encoding: .utf8)) ?? ""
    }

    /// Waits for the process to end. The status is the exit code, or 128 + the signal that killed it.
    public func wait() -> ProcessResult {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitStatus = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        defer { capture.remove() }
        return ProcessResult(
            status: exitStatus,
            stdout: (try? String(contentsOfFile: capture.file("stdout"), encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: capture.file("stderr"), encoding: .utf8)) ?? "")
    }
}
