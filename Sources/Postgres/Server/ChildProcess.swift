import Foundation
import LifeboatCore
#if canImport(Glibc)
import Glibc
#endif

/// Starts programs with `posix_spawn` and reaps them with `waitpid`, their output in files rather than pipes.
///
/// `pg_ctl start` leaves a server running that inherits the child's descriptors: a pipe would never see its end of
/// file, and Foundation's `Process` on Linux waits for exactly that. Files and `waitpid` have no such trap.
public enum ChildProcess {
    /// A program that could not be started, or that failed.
    public struct Failure: LifeboatFailure, Sendable {
        public var description: String
        public var message: String { description }
        public var code: ErrorCode { .runFailed }
    }

    /// This process's environment without Lifeboat's own secrets (`LIFEBOAT_*`, `AWS_*`): what children inherit
    /// (a PostgreSQL server started for a drill, and its archive and restore commands, never see the passphrase).
    public static func inheritedEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment)
        -> [String: String] {
        environment.filter { !EnvironmentVariable.isPrivate($0.key) }
    }

    /// Spawns `executable` with standard input from `stdin` (a path; `/dev/null` by default) and standard output and
    /// error appended to `stdout` and `stderr`. Signals are reset to their defaults and none is blocked. Without
    /// `environment`, the child gets `inheritedEnvironment()`.
    public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                             stdin: String = "/dev/null", stdout: String, stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o600)

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

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? inheritedEnvironment()).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + env { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, env)
        guard result == 0 else {
            throw Failure(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Waits for a spawned process; the exit code, or 128 + the signal that ended it.
    public static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs a program to completion; returns its exit status and its output (standard output and error together).
    public static func run(_ executable: String, _ arguments: [String],
                           environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let capture = FileManager.default.temporaryDirectory.path + "/lifeboat-child-" + UUID().uuidString
        defer { unlink(capture) }
        let pid = try spawn(executable, arguments, environment: environment, stdout: capture, stderr: capture)
        let status = wait(pid)
        return (status, (try? String(contentsOfFile: capture, encoding: .utf8)) ?? "")
    }
}
