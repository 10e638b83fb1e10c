import Foundation
import LifeboatCore

/// An exclusive lock that keeps a plan from running twice at once, across processes.
///
/// It is an open-file-description lock (`F_OFD_SETLK`) on `locks/<plan>.lock`: the kernel drops it when the
/// process ends, however it ends, so there are no stale locks. Unlike `flock`, whether it is held can be asked
/// (`F_OFD_GETLK`) without taking it, so checking never makes a starting run fail. The file holds the holder's PID
/// and start time, for the message the second process prints. The descriptor is close-on-exec, so step commands
/// do not inherit the lock.
public final class PlanLock: Sendable {
    public struct Holder: Sendable, Equatable {
        public var pid: Int32
        public var since: String
    }

    public let path: String
    private let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Takes the lock for `plan`, or throws `.locked` naming the holder.
    public static func acquire(plan: String, in state: StateDirectory) throws -> PlanLock {
        let path = lockPath(plan: plan, in: state)
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw LifeboatError(.state, "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        // A run of this process that just ended can hold the lock a moment longer: a child being spawned elsewhere
        // in the process shares its descriptor until it executes. Only then is it worth trying again briefly.
        var attempts = 0
        while fcntl(descriptor, ofdSetLock, &request) != 0, errno == EAGAIN || errno == EACCES,
              readHolder(path)?.pid == getpid(), attempts < 40 {
            attempts += 1
            usleep(50_000)
        }
        if fcntl(descriptor, ofdSetLock, &request) != 0 {
            let code = errno
            close(descriptor)
            guard code == EAGAIN || code == EACCES else {
                throw LifeboatError(.state, "cannot lock \(path): \(String(cString: strerror(code)))")
            }
            let holder = readHolder(path)
            let who = holder.map { "process \($0.pid), running since \($0.since)" } ?? "another process"
            throw LifeboatError(.locked, "plan '\(plan)' is already running (\(who))",
                                hint: "wait for it to finish; `lifeboat runs list --plan \(plan)` shows it")
        }
        let text = "\(getpid()) \(Formatted.timestamp(Date()))\n"
        _ = ftruncate(descriptor, 0)
        _ = text.withCString { pwrite(descriptor, $0, strlen($0), 0) }
        return PlanLock(path: path, descriptor: descriptor)
    }

    /// Who holds the lock for `plan` now, or nil when nobody does. Never takes the lock.
    public static func holder(plan: String, in state: StateDirectory) -> Holder? {
        let path = lockPath(plan: plan, in: state)
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        guard fcntl(descriptor, ofdGetLock, &request) == 0, request.l_type != Int16(F_UNLCK) else { return nil }
        return readHolder(path) ?? Holder(pid: 0, since: "unknown")
    }

    private static func readHolder(_ path: String) -> Holder? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let parts = text.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count == 2, let pid = Int32(parts[0]) else { return nil }
        return Holder(pid: pid, since: parts[1])
    }

    static func lockPath(plan: String, in state: StateDirectory) -> String {
        state.locksPath + "/\(plan).lock"
    }

    // Linux's open-file-description lock commands (<fcntl.h> defines them only under _GNU_SOURCE).
    private static let ofdGetLock: Int32 = 36
    private static let ofdSetLock: Int32 = 37
}
