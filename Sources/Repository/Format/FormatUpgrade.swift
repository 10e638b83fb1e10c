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
    /// reads it (old files left over are ignored). Running it again finishes the work. WAL that a format 2 writer
    /// (an older Lifeboat as `archive_command`, which takes no lock) archives meanwhile is picked up by listing the
    /// old layout again after the config changed, until a listing finds nothing new.
    ///
    /// A file whose cluster cannot be told (a format 2 archive that several clusters shared) stops the upgrade
    /// before the config changes, named, unless `assignments` (old path → system identifier) says whose it is.
    public func upgradeFormat(assignments: [String: String] = [:], settleTime: TimeInterval = 1,
                              progress: (@Sendable (String) -> Void)? = nil) throws(RepositoryError) -> UpgradeReport {
        let lock = try RepositoryLock.acquire(self, .exclusive, timeout: 0)
        defer { withExtendedLifetime(lock) {} }
        for (path, cluster) in assignments where !SystemIdentifier.isValid(cluster) {
            throw RepositoryError(.refused, "'\(cluster)' (for \(path)) is not a PostgreSQL system identifier")
        }
        // The config as stored now (another process may have finished an upgrade since this one opened it).
        let stored = try Self.readConfig(in: store, allowingOlderFormat: true)
        let copying = stored.format < Self.formatVersion
        var report = UpgradeReport(fromFormat: stored.format, toFormat: Self.formatVersion)
        let manifests = try manifests()
        var state = Attribution(assignments: assignments,
                                known: Set(manifests.map(\.systemIdentifier).filter(SystemIdentifier.isValid)),
                                manifests: manifests)

        var older = try olderLayoutWAL()
        if copying { progress?("moving \(older.count) WAL files into their clusters' folders") }
        try attribute(older, into: &state, moving: copying, report: &report)
        let unattributed = older.filter { state.owners[$0.path] == nil }
        guard unattributed.isEmpty else {
            throw RepositoryError(.refused, "the cluster of \(unattributed.count) WAL file(s) cannot be told: "
                + unattributed.map(\.path).joined(separator: ", ") + "; the repository stays format \(stored.format)",
                hint: "say whose each one is: `lifeboat repo upgrade --assign PATH=SYSTEM-IDENTIFIER` (pg_controldata "
                    + "shows a cluster's system identifier)")
        }
        try recordClusters(manifests: manifests, clusters: Set(state.owners.values))
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
        // A format 2 writer that read the config before it changed may still add files: list again until no new
        // one appears (from now on, writers see format 3 and write to the new layout, or refuse).
        while true {
            if settleTime > 0 { Thread.sleep(forTimeInterval: settleTime) }
            let known = Set(older.map(\.path))
            let late = try olderLayoutWAL().filter { !known.contains($0.path) }
            guard !late.isEmpty else { break }
            try attribute(late, into: &state, moving: true, report: &report)
            try store.makeDurable()
            older += late
            if let stray = late.first(where: { state.owners[$0.path] == nil }) {
                throw RepositoryError(.refused, "the cluster of \(stray.path), archived during the upgrade, cannot be told; "
                    + "it stays where it is", hint: "`lifeboat repo upgrade --assign \(stray.path)=SYSTEM-IDENTIFIER`")
            }
        }
        // The old files go, each only once its copy is there.
        for object in older {
            guard let cluster = state.owners[object.path] else { continue }
            let target = Self.walPath(object.name, timeline: String(object.path.split(separator: "/")[1]), cluster: cluster)
            if try !store.exists(target) {
                let plaintext: [UInt8]
                if let text = state.texts[object.path] { plaintext = text } else { plaintext = try readOlder(object) }
                if try move(object, to: cluster, plaintext) { report.walMoved += 1 }
                try store.makeDurable()
            }
            try store.remove(object.path)
            report.walRemoved += 1
            Failpoint.pass("upgrade.wal-removed")
        }
        try store.removeEmptyFolders("wal")
        try store.makeDurable()
        report.clusters = state.known.union(state.owners.values).sorted()
        return report
    }

    /// What is known about the older layout's files while they are attributed to clusters.
    private struct Attribution {
        var assignments: [String: String]
        var known: Set<String>
        var manifests: [BackupManifest]
        var owners: [String: String] = [:]
        /// Clusters with segments on each timeline, and the cluster of each segment name.
        var byTimeline: [String: Set<String>] = [:]
        var bySegment: [String: String] = [:]
        /// Contents of text files (small), kept for the copy made after the config changed.
        var texts: [String: [UInt8]] = [:]
        var segmentSize: UInt64 = 16 << 20
    }

    /// Finds each file's cluster (and copies it to its cluster's folder when `moving`). Segments name their
    /// cluster in their page header. A format 2 archive had one name space, so a `.history` file belongs to the
    /// cluster of the segment of its timeline that holds its switch point (else of any segment on its timeline,
    /// else on its parent's, else of the backups on it), and a `.backup` file to the cluster of the segment it
    /// names; in a repository of one cluster, to it. An assignment overrides all of that.
    private func attribute(_ objects: [StoredObject], into state: inout Attribution, moving: Bool,
                           report: inout UpgradeReport) throws(RepositoryError) {
        for object in objects where WALFileName.hasPageHeader(object.name) {
            let plaintext = try readOlder(object)
            let header = WALSegmentHeader(Array(plaintext.prefix(WALSegmentHeader.size)))
            if let assigned = state.assignments[object.path], let header, String(header.systemIdentifier) != assigned {
                throw RepositoryError(.refused, "\(object.path) names cluster \(header.systemIdentifier) in its page header, "
                    + "not \(assigned) it was assigned to; nothing was changed")
            }
            guard let cluster = state.assignments[object.path] ?? header.map({ String($0.systemIdentifier) }) else { continue }
            state.owners[object.path] = cluster
            state.known.insert(cluster)
            state.byTimeline[String(object.path.split(separator: "/")[1]), default: []].insert(cluster)
            state.bySegment[String(object.name.prefix(24))] = cluster
            if let header { state.segmentSize = UInt64(header.segmentSize) }
            if moving {
                if try move(object, to: cluster, plaintext) { report.walMoved += 1 }
                Failpoint.pass("upgrade.wal-moved")
            }
        }
        for object in objects where !WALFileName.hasPageHeader(object.name) {
            let plaintext = try readOlder(object)
            let timeline = String(object.path.split(separator: "/")[1])
            var candidates: Set<String> = []
            if let assigned = state.assignments[object.path] {
                candidates = [assigned]
            } else if WALFileName.isHistory(object.name) {
                let number = UInt32(timeline, radix: 16) ?? 0
                let history = TimelineHistory(timeline: number, text: String(decoding: plaintext, as: UTF8.self))
                if let switchpoint = history?.ancestors.last?.switchpoint {
                    let holding = WALRange.segmentName(timeline: timeline, segment: switchpoint / state.segmentSize,
                                                       segmentSize: state.segmentSize)
                    if let owner = state.bySegment[holding] { candidates = [owner] }
                }
                if candidates.isEmpty { candidates = state.byTimeline[timeline] ?? [] }
                if candidates.isEmpty, let parent = history?.parent {
                    candidates = state.byTimeline[WALRange.hex8(UInt64(parent))] ?? []
                }
                if candidates.isEmpty {
                    candidates = Set(state.manifests.filter { $0.timeline == Int(number) }.map(\.systemIdentifier))
                }
            } else if let owner = state.bySegment[String(object.name.prefix(24))] {
                candidates = [owner]
            }
            if candidates.isEmpty && state.known.count == 1 { candidates = state.known }
            // Left over by an interrupted upgrade: whose copy it already has, when only one cluster has it.
            if candidates.count != 1 && !moving {
                var holders: Set<String> = []
                for owner in try walClusters() {
                    let copy = Self.walPath(object.name, timeline: timeline, cluster: owner)
                    if let sealed = try store.read(copy), try codec.open(sealed, kind: .wal, name: copy) == plaintext {
                        holders.insert(owner)
                    }
                }
                if holders.count == 1 { candidates = holders }
            }
            guard candidates.count == 1, let cluster = candidates.first else { continue }
            state.owners[object.path] = cluster
            state.texts[object.path] = plaintext
            if moving {
                if try move(object, to: cluster, plaintext) { report.walMoved += 1 }
                Failpoint.pass("upgrade.wal-moved")
            }
        }
        report.unattributed = objects.filter { state.owners[$0.path] == nil }.map(\.path)
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
