import Foundation

/// Keeps garbage collection and retention away from running backups: backups hold the repository lock shared,
/// `gc` and `expire` exclusively. How it is held depends on the store (an `flock` for a folder, lock objects in a
/// bucket).
public final class RepositoryLock: Sendable {
    public enum Mode: String, Sendable, Codable {
        case shared
        case exclusive
    }

    private let held: any StoreLock

    private init(held: any StoreLock) { self.held = held }

    /// Takes the lock, waiting up to `timeout` seconds for a conflicting holder to finish.
    public static func acquire(_ repository: BackupRepository, _ mode: Mode, timeout: TimeInterval) throws(RepositoryError)
        -> RepositoryLock {
        RepositoryLock(held: try repository.store.lock(mode, timeout: timeout))
    }

    /// Throws `.locked` when the lock may have been lost (see `StoreLock.confirm`): nothing may be committed then.
    public func confirm() throws(RepositoryError) {
        try held.confirm()
    }

    static func conflict(_ mode: Mode, holders: [S3Lock.Record] = []) -> RepositoryError {
        let named = holders.isEmpty ? "" : " (held by " + holders.map { "\($0.mode.rawValue): process \($0.pid) on \($0.host)" }
            .joined(separator: ", ") + ")"
        return RepositoryError(.locked, mode == .shared
            ? "the repository is locked by a garbage collection or expiry\(named); try again when it has finished"
            : "the repository is in use by a backup or a recovery\(named); run gc or expire when none is running")
    }
}
