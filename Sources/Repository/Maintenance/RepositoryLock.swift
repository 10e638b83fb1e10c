import Foundation

/// Keeps garbage collection and retention away from running backups: backups hold the repository lock shared,
/// `gc` and `expire` exclusively. It is an `flock` on `locks/repository`, released by the kernel when its process
/// ends however it ends, so a dead process never leaves a stale lock behind.
public final class RepositoryLock: Sendable {
    public enum Mode: Sendable {
        case shared
        case exclusive
    }

    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// Takes the lock, waiting up to `timeout` seconds for a conflicting holder to finish.
    public static func acquire(_ repository: BackupRepository, _ mode: Mode, timeout: TimeInterval) throws(RepositoryError)
        -> RepositoryLock {
        let folder = repository.store.path("locks")
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/repository"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileStore.ioError("cannot open lock \(path)") }
        let operation = (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB
        let deadline = Date().addingTimeInterval(timeout)
        while flock(descriptor, operation) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(descriptor)
                throw FileStore.ioError("cannot lock \(path)")
            }
            guard Date() < deadline else {
                close(descriptor)
                throw RepositoryError(.refused, mode == .shared
                    ? "the repository is locked by a garbage collection or expiry; try again when it has finished"
                    : "the repository is in use by a backup; run gc or expire when no backup is running")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return RepositoryLock(descriptor: descriptor)
    }
}
