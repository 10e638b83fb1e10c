import Foundation
import Synchronization
import LifeboatCrypto
import LifeboatCore

/// A recovery in progress: a restore (until PostgreSQL has fetched the WAL it needs) or a drill (for its life).
/// `leases/<id>` is refreshed by every `wal fetch --lease ID`; `repo expire` refuses to remove anything of a
/// cluster with a live lease, so that WAL is never removed under a running recovery (which would end it early,
/// silently with `latest`).
public struct RecoveryLease: Codable, Sendable, Equatable, CustomStringConvertible {
    public var id: String
    public var cluster: String
    /// `restore` or `drill`.
    public var purpose: String
    /// Where the recovery runs (the restored folder, the drill's run id).
    public var detail: String
    public var host: String
    public var user: String
    public var pid: Int32
    public var created: Date
    /// When it was last refreshed (the store's modification time), filled in when read.
    public var refreshed: Date?

    public var description: String {
        "\(purpose) \(detail) (lease \(id), process \(pid) of \(user) on \(host), since \(Formatted.timestamp(created)))"
    }
}

extension BackupRepository {
    static let leaseKind = ObjectKind(rawValue: "recovery-lease")
    /// A lease not refreshed for this long belongs to a recovery that ended (promoted, stopped, or died).
    public static let leaseStaleAfter: TimeInterval = 6 * 3600

    static func leasePath(_ id: String) -> String { "leases/" + id }

    static func isValidLeaseId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 32 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Takes a lease on `cluster` for a recovery; end it with `endRecoveryLease` (or let it go stale).
    public func takeRecoveryLease(cluster: String, purpose: String, detail: String) throws(RepositoryError) -> RecoveryLease {
        let lease = RecoveryLease(id: SecureRandom.hex(8), cluster: cluster, purpose: purpose, detail: detail,
                                  host: ProcessInfo.processInfo.hostName,
                                  user: ProcessInfo.processInfo.environment["USER"] ?? String(getuid()), pid: getpid(),
                                  created: Date())
        _ = try putObject(RepositoryJSON.encode(lease), kind: Self.leaseKind, path: Self.leasePath(lease.id), mode: .createNew)
        return lease
    }

    /// Refreshes a lease (each WAL fetch of the recovery, at most every `leaseRefreshInterval`); a lease that
    /// ended is not brought back.
    public func refreshRecoveryLease(_ id: String) throws(RepositoryError) {
        guard Self.isValidLeaseId(id), let modified = try store.modificationTime(Self.leasePath(id)),
              Date().timeIntervalSince(modified) >= Self.leaseRefreshInterval || modified > Date(),
              let bytes = try object(kind: Self.leaseKind, path: Self.leasePath(id)) else { return }
        _ = try putObject(bytes, kind: Self.leaseKind, path: Self.leasePath(id), mode: .replace)
    }

    /// How often a live recovery rewrites its lease (a WAL fetch between two refreshes costs one HEAD).
    public static let leaseRefreshInterval: TimeInterval = 300

    /// Waits until no garbage collection or expiry holds the repository (they check leases under their lock), so
    /// that one running while a lease was taken cannot have missed it.
    public func settleRecoveryLease() throws(RepositoryError) {
        let lock = try RepositoryLock.acquire(self, .shared, timeout: 600)
        withExtendedLifetime(lock) {}
    }

    public func endRecoveryLease(_ id: String) throws(RepositoryError) {
        guard Self.isValidLeaseId(id) else { throw RepositoryError(.refused, "'\(id)' is not a recovery lease id") }
        try store.remove(Self.leasePath(id))
    }

    /// Live leases (of `cluster`, or all); stale ones are left for `repo gc`'s clean-up of leftovers.
    public func recoveryLeases(cluster: String? = nil, now: Date = Date()) throws(RepositoryError) -> [RecoveryLease] {
        var result: [RecoveryLease] = []
        for id in try store.list("leases") where !id.hasPrefix(".tmp-") {
            let path = Self.leasePath(id)
            guard let bytes = try object(kind: Self.leaseKind, path: path),
                  let modified = try store.modificationTime(path) else { continue }
            var lease = try RepositoryJSON.decode(RecoveryLease.self, bytes, what: path)
            lease.refreshed = modified
            guard now.timeIntervalSince(modified) <= Self.leaseStaleAfter else { continue }
            if cluster == nil || lease.cluster == cluster { result.append(lease) }
        }
        return result
    }
}

/// Refreshes a recovery lease while a long restore writes files (before PostgreSQL's fetches take over).
public final class RecoveryLeaseKeeper: Sendable {
    private final class Flag: Sendable {
        let stopped = Mutex(false)
    }

    private let flag = Flag()

    public init(_ repository: BackupRepository, lease id: String) {
        let thread = Thread { [flag] in
            var next = Date().addingTimeInterval(BackupRepository.leaseRefreshInterval)
            while !flag.stopped.withLock({ $0 }) {
                Thread.sleep(forTimeInterval: 1)
                guard Date() >= next else { continue }
                // A failed refresh is tried again at the next interval; the lease lasts hours.
                try? repository.refreshRecoveryLease(id)
                next = Date().addingTimeInterval(BackupRepository.leaseRefreshInterval)
            }
        }
        thread.start()
    }

    public func stop() { flag.stopped.withLock { $0 = true } }

    deinit { stop() }
}
