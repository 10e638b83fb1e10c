import Foundation
import LifeboatCore

public struct GarbageCollectionReport: Codable, Sendable {
    /// Chunks no backup needs that were deleted (with their packs, or left out when a pack was rewritten).
    public var chunksRemoved = 0
    public var bytesRemoved: Int64 = 0
    /// Temporary files, packs no index lists and no backup needs, folders of backups that never committed.
    public var leftoversRemoved = 0
    public var chunksKept = 0
    /// Unused chunks left where they are: in packs where they take less than `rewriteUnusedShare`.
    public var unusedChunksKept = 0
    public var unusedBytesKept: Int64 = 0
    public var packsRemoved = 0
    public var packsRewritten = 0
    /// Packs no index listed although backups need their chunks (a lost index), listed again from their trailers.
    public var packsRecovered = 0
    /// Multipart uploads to a bucket that killed processes left unfinished for more than a day, aborted.
    public var uploadsAborted = 0
    /// Packs no index lists whose trailer is damaged: kept (their chunks cannot be told), named here.
    public var unreadablePacks: [String] = []
}

/// What the last garbage collection saw, so that the next one can tell a shrunken listing from deleted backups.
struct GarbageCollectionState: Codable {
    var backups: Int
    var time: Date
}

extension BackupRepository {
    /// A pack is rewritten without its unused chunks once they make up this share of it; below, they stay.
    static let rewriteUnusedShare = 0.1
    /// Unfinished multipart uploads older than this are a killed process's (WAL pushes run without the lock).
    static let staleUploadAge: TimeInterval = 24 * 3600

    /// Removes chunks no backup refers to, temporary files and folders of backups that never committed.
    /// Takes the repository lock exclusively: it refuses to run while a backup is running. If any manifest or index
    /// cannot be read, nothing is removed.
    ///
    /// Crash-safe order: packs that replace rewritten ones are synced, then one new index lists every pack kept,
    /// then the old index objects go, and only then the packs nothing lists any more.
    ///
    /// Fails closed: an unreadable manifest, a pack whose trailer cannot be read for any reason other than damage,
    /// or fewer backups listed than the previous collection saw (a listing that may be incomplete) stop it before
    /// anything is removed. `acceptingBackups` is the count an operator confirms after deleting backups by hand.
    public func collectGarbage(acceptingBackups: Int? = nil) throws(RepositoryError) -> GarbageCollectionReport {
        try collectGarbage(holding: nil, acceptingBackups: acceptingBackups)
    }

    static let garbageCollectionStatePath = "gc-state"
    static let garbageCollectionStateKind = ObjectKind(rawValue: "gc-state")

    func garbageCollectionState() throws(RepositoryError) -> GarbageCollectionState? {
        guard let bytes = try object(kind: Self.garbageCollectionStateKind, path: Self.garbageCollectionStatePath) else {
            return nil
        }
        return try RepositoryJSON.decode(GarbageCollectionState.self, bytes, what: Self.garbageCollectionStatePath)
    }

    /// Records how many backups the repository holds on purpose (after gc, and before expire removes some).
    func recordBackupCount(_ count: Int) throws(RepositoryError) {
        _ = try putObject(RepositoryJSON.encode(GarbageCollectionState(backups: count, time: Date())),
                          kind: Self.garbageCollectionStateKind, path: Self.garbageCollectionStatePath, mode: .replace)
    }

    /// The same, under an exclusive lock the caller holds already (`expire`), or taking one when nil.
    func collectGarbage(holding held: RepositoryLock?, acceptingBackups: Int? = nil) throws(RepositoryError)
        -> GarbageCollectionReport {
        try requireCurrentFormat()
        let lock: RepositoryLock
        if let held { lock = held } else { lock = try RepositoryLock.acquire(self, .exclusive, timeout: 0) }
        defer { withExtendedLifetime(lock) {} }
        var referenced = Set<ChunkKey>()
        let allManifests = try manifests()
        let state: GarbageCollectionState?
        do {
            state = try garbageCollectionState()
        } catch where acceptingBackups == allManifests.count {
            state = nil  // damaged, and the operator confirmed the count
        }
        if let state, allManifests.count < state.backups, acceptingBackups != allManifests.count {
            throw RepositoryError(.damaged, "\(location) lists \(allManifests.count) backups, but held \(state.backups) at the "
                + "last garbage collection (\(Formatted.timestamp(state.time))); nothing was removed: "
                + "the listing may be incomplete, or backups were deleted without `repo expire`",
                hint: "if the missing backups were removed on purpose, run `lifeboat repo gc --accept-backups \(allManifests.count)`")
        }
        for manifest in allManifests {
            for file in manifest.files {
                for id in file.chunks {
                    guard let key = ChunkKey(hex: id) else {
                        throw RepositoryError(.damaged, "backup \(manifest.id) names an invalid chunk id \(id)")
                    }
                    referenced.insert(key)
                }
            }
        }
        for bundle in try bundles() {
            for id in bundle.chunks {
                guard let key = ChunkKey(hex: id) else {
                    throw RepositoryError(.damaged, "bundle \(bundle.id) names an invalid chunk id \(id)")
                }
                referenced.insert(key)
            }
        }
        let indexes = try indexObjects()
        var report = GarbageCollectionReport()

        // The packs stored; temporary files are leftovers of interrupted writers.
        var onDisk: [String: Int] = [:]
        for object in try store.listAll("packs") {
            if object.name.hasPrefix(".tmp-") {
                report.bytesRemoved += Int64(object.size)
                try store.remove(object.path)
                report.leftoversRemoved += 1
            } else {
                onDisk[object.name] = object.size
            }
        }

        // A pack an index lists that the listing lacks is confirmed gone before the index forgets it: an object
        // store's listing may lag behind its objects, and forgetting a pack that exists would hide its chunks.
        for id in Set(indexes.flatMap { $0.records.map(\.id) }) where onDisk[id] == nil {
            if let size = try store.size(PackRecord.path(id)) { onDisk[id] = size }
        }

        // Every listed pack once, in index order; packs listed but gone are dropped (verify names what they held).
        var order: [String] = []
        var records: [String: PackRecord] = [:]
        for (_, list) in indexes {
            for record in list where records[record.id] == nil && onDisk[record.id] != nil {
                records[record.id] = record
                order.append(record.id)
            }
        }
        let droppedMissing = Set(indexes.flatMap { $0.records.map(\.id) }).subtracting(onDisk.keys).count

        // Packs no index lists: a killed backup's (removed) or a lost index's (listed again when backups need them).
        Failpoint.pass("gc.before-remove")
        try lock.confirm()
        // A trailer that cannot be read because the store failed stops gc; a damaged one keeps its pack (reported).
        for id in onDisk.keys.sorted() where records[id] == nil {
            let trailer: PackRecord
            do throws(RepositoryError) {
                trailer = try packTrailer(id)
            } catch where error.code == .damaged {
                report.unreadablePacks.append(id)
                continue
            } catch {
                throw RepositoryError(error.code, "cannot read the trailer of pack \(id): \(error.message); nothing more was removed",
                                      hint: "run gc again once the repository can be read")
            }
            if trailer.entries.contains(where: { referenced.contains($0.key) }) {
                records[id] = trailer
                order.append(id)
                report.packsRecovered += 1
            } else {
                report.bytesRemoved += Int64(onDisk[id] ?? 0)
                try store.remove(PackRecord.path(id))
                report.leftoversRemoved += 1
            }
        }

        // Keep, rewrite or remove each pack. A chunk held twice counts where it was listed first.
        var seen = Set<ChunkKey>()
        var kept: [PackRecord] = []
        var rewrite: [(PackRecord, [PackEntry])] = []
        var removed: [PackRecord] = []
        for id in order {
            let record = records[id]!
            let live = record.entries.filter { referenced.contains($0.key) && seen.insert($0.key).inserted }
            let unusedBytes = record.objectBytes - live.reduce(0) { $0 + Int($1.length) }
            if live.isEmpty {
                removed.append(record)
            } else if Double(unusedBytes) >= Self.rewriteUnusedShare * Double(record.objectBytes) {
                rewrite.append((record, live))
            } else {
                kept.append(record)
                report.chunksKept += live.count
                report.unusedChunksKept += record.entries.count - live.count
                report.unusedBytesKept += Int64(unusedBytes)
            }
        }
        let changed = !removed.isEmpty || !rewrite.isEmpty || report.packsRecovered > 0 || droppedMissing > 0
            || indexes.count > 1
        if changed {
            let writer = packWriter()
            do throws(RepositoryError) {
                for (record, live) in rewrite {
                    for entry in live {
                        let object = try store.read(record.path, offset: Int(entry.offset), count: Int(entry.length))
                        guard let object, object.count == Int(entry.length) else {
                            throw RepositoryError(.damaged, "pack \(record.id) is truncated; nothing was removed",
                                                  hint: "run `lifeboat verify --read-data` to see which backups it affects")
                        }
                        _ = writer.claim(entry.key)
                        try writer.append(entry.key, object: object)
                    }
                    report.chunksKept += live.count
                    report.chunksRemoved += record.entries.count - live.count
                }
            } catch {
                writer.abandon()
                throw error
            }
            let written = try writer.finish()
            try store.makeDurable()
            // Still the only holder (an exclusive lease on a bucket may lapse too): nothing is removed otherwise.
            try lock.confirm()
            let all = kept + written
            if !all.isEmpty { try writeIndex(all) }
            try store.makeDurable()
            for (path, _) in indexes { try store.remove(path) }
            try store.makeDurable()
            for record in removed + rewrite.map(\.0) {
                report.bytesRemoved += Int64(onDisk[record.id] ?? 0)
                try store.remove(record.path)
            }
            for record in written {
                report.bytesRemoved -= Int64(try store.size(record.path) ?? 0)
            }
            report.packsRemoved = removed.count
            report.packsRewritten = rewrite.count
            report.chunksRemoved += removed.reduce(0) { $0 + $1.entries.count }
        }

        // Temporaries of interrupted writes, and what backups that never committed left in their folders.
        try lock.confirm()
        let committed = Set(try backupIds())
        for object in try store.listAll("backups") {
            let parts = object.path.split(separator: "/")
            if object.name.hasPrefix(".tmp-") || (parts.count >= 2 && !committed.contains(String(parts[1]))) {
                try store.remove(object.path)
                report.leftoversRemoved += 1
            }
        }
        try store.removeEmptyFolders("backups")
        // Leases of recoveries that ended without saying so (killed drills, restores long promoted).
        for object in try store.listAll("leases") {
            if let modified = try store.modificationTime(object.path),
               Date().timeIntervalSince(modified) > Self.leaseStaleAfter || object.name.hasPrefix(".tmp-") {
                try store.remove(object.path)
                report.leftoversRemoved += 1
            }
        }
        for folder in ["wal", "index", "bundles", "keys", "clusters"] {
            for object in try store.listAll(folder) where object.name.hasPrefix(".tmp-") {
                try store.remove(object.path)
                report.leftoversRemoved += 1
            }
        }
        if let bucket = store as? S3Store {
            report.uploadsAborted = try bucket.abortStaleUploads(olderThan: Self.staleUploadAge)
        }
        try recordBackupCount(allManifests.count)
        chunkIndex.reset()
        return report
    }
}
