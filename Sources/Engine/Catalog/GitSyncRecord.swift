import Foundation
import GRDB

/// One sync of one git source to one mirror (the mirror's URL without credentials).
public struct GitSyncRecord: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "git_syncs"

    public var id: Int64?
    public var runId: String
    public var source: String
    public var destination: String
    public var startedAt: Date
    public var endedAt: Date
    public var succeeded: Bool
    public var refs: Int
    public var refsChanged: Int
    public var preserved: Int
    public var bytes: Int64
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case id, source, destination, succeeded, refs, preserved, bytes, error
        case runId = "run_id", startedAt = "started_at", endedAt = "ended_at", refsChanged = "refs_changed"
    }

    public init(runId: String, source: String, destination: String, startedAt: Date, endedAt: Date, succeeded: Bool,
                refs: Int, refsChanged: Int, preserved: Int, bytes: Int64, error: String?) {
        self.runId = runId
        self.source = source
        self.destination = destination
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.succeeded = succeeded
        self.refs = refs
        self.refsChanged = refsChanged
        self.preserved = preserved
        self.bytes = bytes
        self.error = error
    }
}

/// An old tip Lifeboat preserved on a mirror before a deletion or force-push.
public struct GitPreservedRecord: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "git_preserved"

    public var id: Int64?
    public var runId: String
    public var source: String
    public var destination: String
    public var ref: String
    public var preservedAs: String
    public var sha: String
    public var reason: String
    public var preservedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, source, destination, ref, sha, reason
        case runId = "run_id", preservedAs = "preserved_as", preservedAt = "preserved_at"
    }

    public init(runId: String, source: String, destination: String, ref: String, preservedAs: String, sha: String,
                reason: String, preservedAt: Date) {
        self.runId = runId
        self.source = source
        self.destination = destination
        self.ref = ref
        self.preservedAs = preservedAs
        self.sha = sha
        self.reason = reason
        self.preservedAt = preservedAt
    }
}

extension Catalog {
    public func insert(_ syncs: [GitSyncRecord], preserved: [GitPreservedRecord]) throws {
        try write { db in
            for sync in syncs { try sync.insert(db) }
            for record in preserved { try record.insert(db) }
        }
    }

    /// The newest sync of every (source, destination) pair, and the newest successful one's time.
    public func gitSyncStates() throws -> [(latest: GitSyncRecord, lastSuccess: Date?)] {
        try read { db in
            let all = try GitSyncRecord.order(Column("ended_at").desc).fetchAll(db)
            var seen = Set<String>()
            var result: [(GitSyncRecord, Date?)] = []
            for sync in all where seen.insert(sync.source + "\u{0}" + sync.destination).inserted {
                let success = all.first { $0.source == sync.source && $0.destination == sync.destination && $0.succeeded }
                result.append((sync, success?.endedAt))
            }
            return result.sorted { ($0.0.source, $0.0.destination) < ($1.0.source, $1.0.destination) }
        }
    }

    public func preservedRefs(source: String? = nil) throws -> [GitPreservedRecord] {
        try read { db in
            var request = GitPreservedRecord.order(Column("preserved_at").desc)
            if let source { request = request.filter(Column("source") == source) }
            return try request.fetchAll(db)
        }
    }
}
