import Foundation

public struct GarbageCollectionReport: Codable, Sendable {
    public var chunksRemoved: Int
    public var bytesRemoved: Int64
    public var leftoversRemoved: Int
    public var chunksKept: Int

    enum CodingKeys: String, CodingKey {
        case chunksRemoved = "chunks_removed", bytesRemoved = "bytes_removed"
        case leftoversRemoved = "leftovers_removed", chunksKept = "chunks_kept"
    }
}

extension BackupRepository {
    /// Removes chunks no backup refers to, temporary files and folders of backups that never committed.
    /// Takes the repository lock exclusively: it refuses to run while a backup is running. If any manifest cannot
    /// be read, nothing is removed.
    public func collectGarbage() throws(RepositoryError) -> GarbageCollectionReport {
        let lock = try RepositoryLock.acquire(self, .exclusive, timeout: 0)
        defer { withExtendedLifetime(lock) {} }
        var referenced = Set<String>()
        for manifest in try manifests() {
            for file in manifest.files { referenced.formUnion(file.chunks) }
        }
        var report = GarbageCollectionReport(chunksRemoved: 0, bytesRemoved: 0, leftoversRemoved: 0, chunksKept: 0)
        let manager = FileManager.default
        for folder in (try? manager.contentsOfDirectory(atPath: store.path("chunks"))) ?? [] {
            let folderPath = store.path("chunks/" + folder)
            for name in (try? manager.contentsOfDirectory(atPath: folderPath)) ?? [] {
                let path = folderPath + "/" + name
                if name.hasPrefix(".tmp-") {
                    try store.remove("chunks/\(folder)/\(name)")
                    report.leftoversRemoved += 1
                } else if referenced.contains(name) {
                    report.chunksKept += 1
                } else {
                    report.bytesRemoved += Int64((try? manager.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
                    try store.remove("chunks/\(folder)/\(name)")
                    report.chunksRemoved += 1
                }
            }
        }
        for id in (try? manager.contentsOfDirectory(atPath: store.path("backups"))) ?? [] {
            let folder = store.path("backups/" + id)
            for name in (try? manager.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(".tmp-") {
                try store.remove("backups/\(id)/\(name)")
                report.leftoversRemoved += 1
            }
            if ((try? manager.contentsOfDirectory(atPath: folder)) ?? []).isEmpty {
                try? manager.removeItem(atPath: folder)
                report.leftoversRemoved += 1
            }
        }
        for timeline in (try? manager.contentsOfDirectory(atPath: store.path("wal"))) ?? [] {
            for name in (try? manager.contentsOfDirectory(atPath: store.path("wal/" + timeline))) ?? []
            where name.hasPrefix(".tmp-") {
                try store.remove("wal/\(timeline)/\(name)")
                report.leftoversRemoved += 1
            }
        }
        return report
    }
}
