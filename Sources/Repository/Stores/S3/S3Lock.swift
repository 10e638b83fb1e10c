import Foundation
import Synchronization
import LifeboatCrypto
import LifeboatCore

/// The repository lock of a bucket: a lock object `locks/<id>` per holder, stating its mode, host, process and how
/// long it may go unrefreshed. A holder refreshes its object every fifth of that time; one whose object the store
/// last modified longer ago than that (judged by the store's own clock: the Last-Modified of the reader's fresh
/// lock object against the holder's, never the reader's clock) belongs to a process that died or stalled and is
/// removed by the next exclusive holder.
///
/// A holder never lets its lease lapse silently: a refresh that fails, or a process paused (SIGSTOP, a VM pause)
/// for more than half the stale time, marks the lease lapsed, and `confirm()` — called before a backup commits its
/// manifest — then fails, as it does when the lock object is gone. Taking the lock writes the object first and
/// looks for conflicting holders second, so two processes racing for it cannot both win.
final class S3Lock: StoreLock {
    struct Record: Codable, Sendable {
        var mode: RepositoryLock.Mode
        var host: String
        var pid: Int32
        var refreshed: Date
        /// Seconds after its last refresh that the holder counts as gone (older records: `defaultStaleAfter`).
        var staleAfter: TimeInterval?
    }

    static let defaultStaleAfter: TimeInterval = 600

    /// The stale time this process declares: `LIFEBOAT_LOCK_STALE_AFTER` seconds (at least 10), else 10 minutes.
    static let staleAfter: TimeInterval = {
        let given = ProcessInfo.processInfo.environment[EnvironmentVariable.lockStaleAfter.name].flatMap(TimeInterval.init)
        return max(10, given ?? defaultStaleAfter)
    }()

    /// What the refreshing thread shares with the lock.
    private final class Holder: Sendable {
        let record: Mutex<Record>
        let released = Mutex(false)
        /// Boot-clock time of the last successful refresh (it keeps counting while the process is stopped).
        let lastRefresh = Mutex(S3Lock.bootNanoseconds())
        /// Why the lease lapsed, once it has.
        let lapsed = Mutex<String?>(nil)
        init(_ record: Record) { self.record = Mutex(record) }
    }

    private let store: S3Store
    private let path: String
    private let holder: Holder

    private init(store: S3Store, path: String, record: Record) {
        self.store = store
        self.path = path
        let holder = Holder(record)
        self.holder = holder
        let interval = Self.staleAfter / 5
        let thread = Thread { [store, path, holder] in
            var next = Date().addingTimeInterval(interval)
            while !holder.released.withLock({ $0 }) {
                Thread.sleep(forTimeInterval: 0.5)
                guard Date() >= next, !holder.released.withLock({ $0 }), holder.lapsed.withLock({ $0 }) == nil else { continue }
                // Under the lock, so that a release cannot remove the object while a refresh re-creates it.
                holder.record.withLock { record in
                    guard !holder.released.withLock({ $0 }) else { return }
                    if let reason = S3Lock.lapse(holder) {
                        holder.lapsed.withLock { $0 = reason }
                        return
                    }
                    // The refresh counts from when it began: a PUT that lands late (a slow or retried request)
                    // may re-create an object another process already judged stale and removed.
                    let attempt = S3Lock.bootNanoseconds()
                    do {
                        // Never re-create an object another process removed: the lease is then lost.
                        guard try store.head(path) != nil else {
                            holder.lapsed.withLock { $0 = "the lock object \(path) was removed by another process" }
                            return
                        }
                        record.refreshed = Date()
                        _ = try store.put(path, S3Lock.encode(record), createNew: false)
                        if let reason = S3Lock.lapse(holder) {
                            holder.lapsed.withLock { $0 = reason }
                            return
                        }
                        holder.lastRefresh.withLock { $0 = attempt }
                        next = Date().addingTimeInterval(interval)
                    } catch {
                        // Tried again soon; `lapse` decides when the lease is lost.
                        next = Date().addingTimeInterval(min(interval, 5))
                    }
                }
            }
        }
        thread.start()
    }

    deinit {
        holder.record.withLock { _ in holder.released.withLock { $0 = true } }
        try? store.remove(path)
    }

    /// Why the lease lapsed, or nil: the last successful refresh is older than half the stale time.
    private static func lapse(_ holder: Holder) -> String? {
        let age = Double(bootNanoseconds() - holder.lastRefresh.withLock { $0 }) / 1e9
        guard age > staleAfter / 2 else { return nil }
        return "the repository lock was last refreshed \(Int(age)) s ago (a stalled or paused process, or failing "
            + "refreshes); another process may count it as gone after \(Int(staleAfter)) s"
    }

    func confirm() throws(RepositoryError) {
        var reason = holder.lapsed.withLock { $0 } ?? Self.lapse(holder)
        if reason == nil, try store.head(path) == nil { reason = "the lock object \(path) was removed by another process" }
        // A HEAD that took long: judge again after it.
        if reason == nil { reason = holder.lapsed.withLock { $0 } ?? Self.lapse(holder) }
        guard let reason else { return }
        holder.lapsed.withLock { $0 = $0 ?? reason }
        throw RepositoryError(.locked, "the repository lock was lost: \(reason); nothing was committed, since a garbage "
            + "collection may have removed what this operation wrote", hint: "run it again")
    }

    static func acquire(_ store: S3Store, _ mode: RepositoryLock.Mode, timeout: TimeInterval) throws(RepositoryError) -> S3Lock {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let path = "locks/" + SecureRandom.hex(16)
            let record = Record(mode: mode, host: ProcessInfo.processInfo.hostName, pid: getpid(), refreshed: Date(),
                                staleAfter: staleAfter)
            _ = try store.put(path, encode(record), createNew: true)
            let conflicting: [(path: String, record: Record)]
            do {
                conflicting = try holders(store, own: path).filter { other in
                    other.path != path && (mode == .exclusive || other.record.mode == .exclusive)
                }
            } catch {
                try? store.remove(path)
                throw error
            }
            if conflicting.isEmpty {
                return S3Lock(store: store, path: path, record: record)
            }
            try store.remove(path)
            guard Date() < deadline else { throw RepositoryLock.conflict(mode, holders: conflicting.map(\.record)) }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Live lock objects; stale ones (by the store's clock: their Last-Modified against that of `own`, just
    /// written) are removed on the way.
    private static func holders(_ store: S3Store, own: String) throws(RepositoryError) -> [(path: String, record: Record)] {
        guard let now = try store.serverModificationTime(own) else {
            throw RepositoryError(.io, "the lock object \(own) vanished right after it was written")
        }
        var live: [(String, Record)] = []
        for name in try store.list("locks") {
            let path = "locks/" + name
            guard path != own else { continue }
            guard let bytes = try store.read(path) else { continue }
            guard let record = try? decoder.decode(Record.self, from: Data(bytes)) else {
                throw RepositoryError(.damaged, "lock object \(path) is unreadable", hint: "remove it if no Lifeboat is running")
            }
            guard let modified = try store.serverModificationTime(path) else { continue }
            if now.timeIntervalSince(modified) > (record.staleAfter ?? defaultStaleAfter) {
                try store.remove(path)
                continue
            }
            live.append((path, record))
        }
        return live
    }

    static func encode(_ record: Record) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return Array((try? encoder.encode(record)) ?? Data())
    }

    private static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// CLOCK_BOOTTIME in nanoseconds: monotonic, and counting while the process is stopped or the machine sleeps.
    static func bootNanoseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_BOOTTIME, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
