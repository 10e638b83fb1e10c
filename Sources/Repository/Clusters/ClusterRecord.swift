import Foundation

/// A PostgreSQL cluster whose backups and WAL a repository holds, identified by its system identifier (fixed at
/// `initdb`, shared by its standbys and by every server restored from its backups; so a cluster keeps its identity
/// through failovers and carries on in the same place).
///
/// Stored encrypted at `clusters/<system identifier>`; created by the first WAL push or backup of the cluster.
public struct ClusterRecord: Codable, Sendable, Equatable {
    public struct Name: Codable, Sendable, Equatable {
        public var name: String
        public var firstSeen: Date

        enum CodingKeys: String, CodingKey {
            case name
            case firstSeen = "first_seen"
        }
    }

    public var systemIdentifier: String
    /// Every name backups of the cluster were taken under (the inventory database, or `--source`), oldest first: a
    /// cluster may be `orders` and, after a failover, `orders-standby`.
    public var names: [Name]
    /// The server's version number (e.g. 150018), once a backup has recorded it.
    public var postgresVersion: Int?
    public var firstSeen: Date
    /// Timelines a failover left behind (recorded by `postgres.rebaseline` on the new primary): retention treats
    /// their backups as the new timeline's.
    public var supersededTimelines: [UInt32]?

    /// The name it was last backed up under.
    public var name: String? { names.last?.name }

    enum CodingKeys: String, CodingKey {
        case names
        case systemIdentifier = "system_identifier", postgresVersion = "postgres_version", firstSeen = "first_seen"
        case supersededTimelines = "superseded_timelines"
    }

    public init(systemIdentifier: String, names: [Name] = [], postgresVersion: Int? = nil, firstSeen: Date = Date()) {
        self.systemIdentifier = systemIdentifier
        self.names = names
        self.postgresVersion = postgresVersion
        self.firstSeen = firstSeen
    }

    /// Adds a name (when new), keeping the order in which names appeared.
    mutating func note(name: String?, postgresVersion: Int?, at time: Date = Date()) -> Bool {
        var changed = false
        if let name, !name.isEmpty, !names.contains(where: { $0.name == name }) {
            names.append(Name(name: name, firstSeen: time))
            changed = true
        } else if let name, let last = names.last, last.name != name,
                  let index = names.firstIndex(where: { $0.name == name }) {
            // Backed up under an older name again: it becomes the current one.
            let entry = names.remove(at: index)
            names.append(entry)
            changed = true
        }
        if let postgresVersion, postgresVersion != self.postgresVersion {
            self.postgresVersion = postgresVersion
            changed = true
        }
        return changed
    }
}

/// A cluster as commands show it: its record, and what the repository holds of it.
public struct ClusterSummary: Sendable, Equatable {
    public var systemIdentifier: String
    /// Names, oldest first (from the record and the backups' sources).
    public var names: [String]
    public var postgresVersion: Int?
    public var backups: Int
    /// Timelines with archived WAL.
    public var timelines: [UInt32]

    /// The current name, else the system identifier.
    public var displayName: String { names.last ?? systemIdentifier }

    /// `orders (7714598781226041667)`.
    public var label: String { names.isEmpty ? systemIdentifier : "\(names.last!) (\(systemIdentifier))" }
}

/// System identifiers are unsigned 64-bit integers; in object names they are their decimal digits, in canonical
/// form (no leading zero), so that `wal/00000001/` (a timeline folder of format 2) is never taken for a cluster and
/// one cluster has one folder.
public enum SystemIdentifier {
    public static func isValid(_ text: String) -> Bool {
        guard let value = UInt64(text), value != 0 else { return false }
        return String(value) == text
    }
}

extension ObjectKind {
    public static let cluster = ObjectKind(rawValue: "cluster")
}

extension BackupRepository {
    static func clusterPath(_ systemIdentifier: String) -> String { "clusters/\(systemIdentifier)" }

    /// The recorded clusters, by system identifier.
    public func clusterRecords() throws(RepositoryError) -> [ClusterRecord] {
        var records: [ClusterRecord] = []
        for name in try store.list("clusters") where SystemIdentifier.isValid(name) {
            if let record = try clusterRecord(name) { records.append(record) }
        }
        return records
    }

    public func clusterRecord(_ systemIdentifier: String) throws(RepositoryError) -> ClusterRecord? {
        let path = Self.clusterPath(systemIdentifier)
        guard let bytes = try object(kind: .cluster, path: path) else { return nil }
        let record = try RepositoryJSON.decode(ClusterRecord.self, bytes, what: "cluster record \(systemIdentifier)")
        guard record.systemIdentifier == systemIdentifier else {
            throw RepositoryError(.damaged, "cluster record \(path) names cluster \(record.systemIdentifier)")
        }
        return record
    }

    /// Records the cluster (when new) and the name it is backed up under (when new). Read again just before it is
    /// written, so that two backups naming the cluster at once lose at most the order of their names.
    func noteCluster(_ systemIdentifier: String, name: String?, postgresVersion: Int?,
                     firstSeen: Date = Date()) throws(RepositoryError) {
        let path = Self.clusterPath(systemIdentifier)
        if var record = try clusterRecord(systemIdentifier) {
            guard record.note(name: name, postgresVersion: postgresVersion, at: Date()) else { return }
            _ = try putObject(RepositoryJSON.encode(record), kind: .cluster, path: path, mode: .replace)
            return
        }
        var record = ClusterRecord(systemIdentifier: systemIdentifier, firstSeen: firstSeen)
        _ = record.note(name: name, postgresVersion: postgresVersion, at: firstSeen)
        if try !putObject(RepositoryJSON.encode(record), kind: .cluster, path: path, mode: .createNew) {
            // Another process recorded it first: add to its record.
            try noteCluster(systemIdentifier, name: name, postgresVersion: postgresVersion)
        }
    }

    /// Records that a failover left the timelines `ancestors` behind for `timeline` (the new primary's).
    public func noteFailover(_ systemIdentifier: String, superseded ancestors: [UInt32]) throws(RepositoryError) {
        guard var record = try clusterRecord(systemIdentifier) else {
            throw RepositoryError(.notFound, "no cluster \(systemIdentifier) in \(location)")
        }
        let merged = Array(Set(record.supersededTimelines ?? []).union(ancestors)).sorted()
        guard merged != record.supersededTimelines ?? [] else { return }
        record.supersededTimelines = merged
        _ = try putObject(RepositoryJSON.encode(record), kind: .cluster, path: Self.clusterPath(systemIdentifier), mode: .replace)
    }

    /// Every cluster the repository knows: recorded, backed up, or with archived WAL; by current name.
    public func clusters(manifests given: [BackupManifest]? = nil) throws(RepositoryError) -> [ClusterSummary] {
        let manifests: [BackupManifest]
        if let given { manifests = given } else { manifests = try self.manifests() }
        var summaries: [String: ClusterSummary] = [:]
        func entry(_ id: String) -> ClusterSummary {
            summaries[id] ?? ClusterSummary(systemIdentifier: id, names: [], postgresVersion: nil, backups: 0, timelines: [])
        }
        for record in try clusterRecords() {
            var summary = entry(record.systemIdentifier)
            summary.names = record.names.map(\.name)
            summary.postgresVersion = record.postgresVersion
            summaries[record.systemIdentifier] = summary
        }
        for manifest in manifests {
            var summary = entry(manifest.systemIdentifier)
            summary.backups += 1
            if !summary.names.contains(manifest.source) { summary.names.append(manifest.source) }
            summary.postgresVersion = summary.postgresVersion ?? manifest.postgresVersion
            summaries[manifest.systemIdentifier] = summary
        }
        for id in try walClusters() {
            var summary = entry(id)
            // The timeline folders only (not every WAL file).
            summary.timelines = try store.list("wal/" + id).filter { $0.utf8.count == 8 }
                .compactMap { UInt32($0, radix: 16) }.sorted()
            summaries[id] = summary
        }
        return summaries.values.sorted { ($0.displayName, $0.systemIdentifier) < ($1.displayName, $1.systemIdentifier) }
    }

    /// The cluster `selector` names: its system identifier, or one of its names. Only clusters with backups count
    /// when `withBackups`. A name several clusters carry is refused with all of them listed.
    public func resolveCluster(_ selector: String, among given: [ClusterSummary]? = nil,
                               withBackups: Bool = false) throws(RepositoryError) -> ClusterSummary {
        let all: [ClusterSummary]
        if let given { all = given } else { all = try clusters() }
        let candidates = withBackups ? all.filter { $0.backups > 0 } : all
        if let exact = candidates.first(where: { $0.systemIdentifier == selector }) { return exact }
        let named = candidates.filter { $0.names.contains(selector) }
        if named.count == 1 { return named[0] }
        if named.count > 1 {
            throw RepositoryError(.refused, "\(named.count) clusters in \(location) carry the name '\(selector)': "
                + named.map(\.label).joined(separator: ", "), hint: "name the cluster by its system identifier")
        }
        throw RepositoryError(.notFound, "no cluster '\(selector)' in \(location)"
            + (withBackups ? " with backups" : ""),
            hint: candidates.isEmpty ? nil : "clusters: " + candidates.map(\.label).joined(separator: ", "))
    }

    /// The cluster to use when none was named: the only one (with backups, when `withBackups`).
    public func onlyCluster(among given: [ClusterSummary]? = nil, withBackups: Bool = true,
                            option: String = "--cluster") throws(RepositoryError) -> ClusterSummary {
        let all: [ClusterSummary]
        if let given { all = given } else { all = try clusters() }
        let candidates = withBackups ? all.filter { $0.backups > 0 } : all
        guard !candidates.isEmpty else {
            throw RepositoryError(.notFound, "repository \(location) has no \(withBackups ? "backups" : "clusters")")
        }
        guard candidates.count == 1 else {
            throw RepositoryError(.refused, "repository \(location) holds \(withBackups ? "backups" : "WAL") of "
                + "\(candidates.count) clusters: " + candidates.map(\.label).joined(separator: ", "),
                hint: "choose one with \(option) NAME or \(option) SYSTEM-IDENTIFIER")
        }
        return candidates[0]
    }
}
