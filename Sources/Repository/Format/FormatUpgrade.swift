import Foundation

/// What `repo upgrade` did.
public struct UpgradeReport: Codable, Sendable {
    public var fromFormat: Int
    public var toFormat: Int
    /// WAL files of the older layout copied to their cluster's folder (this run).
    public var walMoved = 0
    /// Older-layout WAL files removed once their copy was confirmed.
    public var walRemoved = 0
    /// The clusters recorded (system identifiers).
    public var clusters: [String] = []
    /// Older-layout files whose cluster could not be told (left where they are; named here).
    public var unattributed: [String] = []

    enum CodingKeys: String, CodingKey {
        case clusters, unattributed
        case fromFormat = "from_format", toFormat = "to_format", walMoved = "wal_moved", walRemoved = "wal_removed"
    }
}

extension BackupRepository {
    /// The WAL files of the format 2 layout (`wal/<timeline>/<file>`) still in the store.
    func olderLayoutWAL() throws(RepositoryError) -> [StoredObject] {
        try store.listAll("wal").filter { object in
            let parts = object.path.split(separator: "/")
            return parts.count == 3 && WALFileName.timeline(of: String(parts[2])) == String(parts[1])
        }
    }

    /// Upgrades a format 2 repository in place to the current format: every WAL file moves to its cluster's folder
    /// (`wal/<system identifier>/<timeline>/`, the cluster read from the segment's own page header), each cluster
    /// gets its record, and then the config says format 3. Takes the repository lock exclusively.
    ///
    /// Crash-safe: the new copies are written (and made durable) before the config changes, and the old files are
    /// removed only after it changed, each once its copy is confirmed. Killed before the config changed, the
    /// repository is format 2 with its WAL where format 2 reads it; after, it is format 3 with its WAL where format 3
    /// reads it (old files left over are ignored). Running it again finishes the work.
    public func upgradeFormat(progress: (@Sendable (String) -> Void)? = nil) throws(RepositoryError) -> UpgradeReport {
        let lock = try RepositoryLock.acquire(self, .exclusive, timeout: 0)
        defer { withExtendedLifetime(lock) {} }
        // The config as stored now (another process may have finished an upgrade since this one opened it).
        let stored = try Self.readConfig(in: store, allowingOlderFormat: true)
        let copying = stored.format < Self.formatVersion
        var report = UpgradeReport(fromFormat: stored.format, toFormat: Self.formatVersion)
        let older = try olderLayoutWAL()
        let manifests = try manifests()
        if copying { progress?("moving \(older.count) WAL files into their clusters' folders") }

        // Segments first: each names its cluster in its page header.
        var owners: [String: String] = [:]
        var byTimeline: [String: Set<String>] = [:]
        var bySegment: [String: String] = [:]
        for object in older where WALFileName.hasPageHeader(object.name) {
            let plaintext = try readOlder(object)
            guard let header = WALSegmentHeader(Array(plaintext.prefix(WALSegmentHeader.size))) else {
                report.unattributed.append(object.path)
                continue
            }
            let cluster = String(header.systemIdentifier)
            owners[object.path] = cluster
            byTimeline[String(object.path.split(separator: "/")[1]), default: []].insert(cluster)
            bySegment[String(object.name.prefix(24))] = cluster
            if copying {
                if try move(object, to: cluster, plaintext) { report.walMoved += 1 }
                Failpoint.pass("upgrade.wal-moved")
            }
        }
        // History and backup-label files: a format 2 archive had one name space, so a `.history` file belongs to
        // the cluster with segments on its timeline (else on its parent's, else with backups on it), a `.backup`
        // file to the cluster of the segment it names; in a repository of one cluster, to it.
        let known = Set(owners.values).union(manifests.map(\.systemIdentifier).filter(SystemIdentifier.isValid))
        var texts: [String: [UInt8]] = [:]
        for object in older where !WALFileName.hasPageHeader(object.name) {
            let plaintext = try readOlder(object)
            let timeline = String(object.path.split(separator: "/")[1])
            var candidates: Set<String> = []
            if WALFileName.isHistory(object.name) {
                candidates = byTimeline[timeline] ?? []
                if candidates.isEmpty, let number = UInt32(timeline, radix: 16),
                   let parent = TimelineHistory(timeline: number, text: String(decoding: plaintext, as: UTF8.self))?.parent {
                    candidates = byTimeline[WALRange.hex8(UInt64(parent))] ?? []
                }
                if candidates.isEmpty, let number = Int(timeline, radix: 16) {
                    candidates = Set(manifests.filter { $0.timeline == number }.map(\.systemIdentifier))
                }
            } else if let owner = bySegment[String(object.name.prefix(24))] {
                candidates = [owner]
            }
            if candidates.isEmpty && known.count == 1 { candidates = known }
            guard candidates.count == 1, let cluster = candidates.first else {
                report.unattributed.append(object.path)
                continue
            }
            owners[object.path] = cluster
            texts[object.path] = plaintext
            if copying {
                if try move(object, to: cluster, plaintext) { report.walMoved += 1 }
                Failpoint.pass("upgrade.wal-moved")
            }
        }

        try recordClusters(manifests: manifests, clusters: Set(owners.values))
        if copying {
            try store.makeDurable()
            Failpoint.pass("upgrade.before-config")
            var config = stored
            config.format = Self.formatVersion
            try store.write("config", RepositoryJSON.encode(config), mode: .replace)
            try store.makeDurable()
            progress?("\(location) is now repository format \(Self.formatVersion)")
            Failpoint.pass("upgrade.after-config")
        }
        // The old files go, each only once its copy is there (copied now if a format 2 writer added it late).
        for object in older {
            guard let cluster = owners[object.path] else { continue }
            let target = Self.walPath(object.name, timeline: String(object.path.split(separator: "/")[1]), cluster: cluster)
            if try !store.exists(target) {
                let plaintext: [UInt8]
                if let text = texts[object.path] { plaintext = text } else { plaintext = try readOlder(object) }
                if try move(object, to: cluster, plaintext) { report.walMoved += 1 }
                try store.makeDurable()
            }
            try store.remove(object.path)
            report.walRemoved += 1
            Failpoint.pass("upgrade.wal-removed")
        }
        try store.removeEmptyFolders("wal")
        try store.makeDurable()
        report.clusters = known.union(owners.values).sorted()
        return report
    }

    /// An older-layout WAL file's content, checked (sealed under its old name).
    private func readOlder(_ object: StoredObject) throws(RepositoryError) -> [UInt8] {
        guard let sealed = try store.read(object.path) else {
            throw RepositoryError(.io, "\(object.path) vanished during the upgrade")
        }
        return try codec.open(sealed, kind: .wal, name: object.path)
    }

    /// Copies an older-layout WAL file to its cluster's folder, sealed under its new name, keeping the time it was
    /// archived. False when the copy was there already (with the same content).
    private func move(_ object: StoredObject, to cluster: String, _ plaintext: [UInt8]) throws(RepositoryError) -> Bool {
        let target = Self.walPath(object.name, timeline: String(object.path.split(separator: "/")[1]), cluster: cluster)
        let archived = try store.modificationTime(object.path)
        if try store.write(target, codec.seal(plaintext, kind: .wal, name: target), mode: .createNew, storedAt: archived) {
            return true
        }
        guard let existing = try store.read(target), try codec.open(existing, kind: .wal, name: target) == plaintext else {
            throw RepositoryError(.conflict, "\(target) exists with other content than \(object.path); the upgrade stopped",
                                  hint: "run `lifeboat verify` and investigate before running the upgrade again")
        }
        return false
    }

    /// A record for every cluster (from its backups' names and versions, or its WAL).
    private func recordClusters(manifests: [BackupManifest], clusters: Set<String>) throws(RepositoryError) {
        for manifest in manifests where SystemIdentifier.isValid(manifest.systemIdentifier) {
            try noteCluster(manifest.systemIdentifier, name: manifest.source, postgresVersion: manifest.postgresVersion,
                            firstSeen: manifest.startTime)
        }
        for cluster in clusters where try !store.exists(Self.clusterPath(cluster)) {
            try noteCluster(cluster, name: nil, postgresVersion: nil)
        }
    }
}
