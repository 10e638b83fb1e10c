import Foundation
import Synchronization

/// The repository lock of a bucket: a lock object `locks/<id>` per holder, stating its mode, host, process and
/// when it was last refreshed. A holder refreshes its object every `refreshInterval`; one not refreshed for
/// `staleAfter` belongs to a process that died and is ignored (and removed by the next exclusive holder).
/// Taking the lock writes the object first and looks for conflicting holders second, so two processes racing
/// for it cannot both win; the loser removes its object and waits or gives up.
final class S3Lock: StoreLock {
    struct Record: Codable, Sendable {
        var mode: RepositoryLock.Mode
        var host: String
        var pid: Int32
        var refreshed: Date
    }

    static let refreshInterval: TimeInterval = 120
    static let staleAfter: TimeInterval = 600

    /// What the refreshing thread shares with the lock.
    private final class Holder: Sendable {
        let record: Mutex<Record>
        let released = Mutex(false)
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
        let thread = Thread { [store, path, holder] in
            var next = Date().addingTimeInterval(Self.refreshInterval)
            while !holder.released.withLock({ $0 }) {
                Thread.sleep(forTimeInterval: 0.5)
                guard Date() >= next, !holder.released.withLock({ $0 }) else { continue }
                // Under the lock, so that a release cannot remove the object while a refresh re-creates it.
                holder.record.withLock { record in
                    guard !holder.released.withLock({ $0 }) else { return }
                    record.refreshed = Date()
                    _ = try? store.put(path, S3Lock.encode(record), createNew: false)
                }
                next = Date().addingTimeInterval(Self.refreshInterval)
            }
        }
        thread.start()
    }

    deinit {
        holder.record.withLock { _ in holder.released.withLock { $0 = true } }
        try? store.remove(path)
    }

    static func acquire(_ store: S3Store, _ mode: RepositoryLock.Mode, timeout: TimeInterval) throws(RepositoryError) -> S3Lock {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let path = "locks/" + SecureRandom.hex(16)
            let record = Record(mode: mode, host: ProcessInfo.processInfo.hostName, pid: getpid(), refreshed: Date())
            _ = try store.put(path, encode(record), createNew: true)
            let conflicting = try holders(store).filter { other in
                other.path != path && (mode == .exclusive || other.record.mode == .exclusive)
            }
            if conflicting.isEmpty {
                return S3Lock(store: store, path: path, record: record)
            }
            try store.remove(path)
            guard Date() < deadline else { throw RepositoryLock.conflict(mode) }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Live lock objects; stale ones are removed on the way.
    private static func holders(_ store: S3Store) throws(RepositoryError) -> [(path: String, record: Record)] {
        var live: [(String, Record)] = []
        for name in try store.list("locks") {
            let path = "locks/" + name
            guard let bytes = try store.read(path) else { continue }
            guard let record = try? decoder.decode(Record.self, from: Data(bytes)) else {
                throw RepositoryError(.damaged, "lock object \(path) is unreadable", hint: "remove it if no Lifeboat is running")
            }
            if Date().timeIntervalSince(record.refreshed) > staleAfter {
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
}
