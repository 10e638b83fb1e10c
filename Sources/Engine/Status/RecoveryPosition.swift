import Foundation
import Plans
import Repository
import LifeboatCore

/// Where each inventory database stands right now: its newest backup, the newest WAL archived beside it, and the
/// RPO exposure (how much committed work a disaster now would lose, at most).
public struct DatabasePosition: Sendable {
    public var database: String
    public var repository: String?
    /// The cluster its backups belong to, and how it was recognised.
    public var cluster: ClusterSummary?
    public var clusterEvidence: ClusterLookup.Evidence?
    public var newestBackup: BackupManifest?
    public var newestWAL: String?
    public var newestWALTime: Date?
    /// Seconds since the newest archived WAL (or the newest backup, when backups carry their own WAL); nil when
    /// the database has no backup at all.
    public var exposure: Double?
    /// What went wrong finding this database's backups (the repositories' own problems are the scan's).
    public var problems: [String] = []

    public init(database: String, exposure: Double? = nil) {
        self.database = database
        self.exposure = exposure
    }
}

public enum RecoveryPosition {
    /// Reads every inventory repository once, and asks each database's server for its system identifier: a
    /// database's backups are its cluster's (whatever name they were taken under). A server that cannot be reached
    /// is matched by its name among the clusters' names. Repositories that cannot be opened are named in `problems`.
    public static func scan(_ inventory: Inventory, secrets: SecretResolver, now: Date = Date())
        -> (positions: [DatabasePosition], problems: [String], warnings: [String]) {
        struct Holding {
            var name: String
            var repository: BackupRepository
            var manifests: [BackupManifest]
            var clusters: [ClusterSummary]
        }
        var repositories: [Holding] = []
        var problems: [String] = []
        var warnings: [String] = []
        for name in inventory.names(.repositories) {
            guard let entry = inventory.entry(.repositories, name) else { continue }
            do {
                let repository = try RepositoryAccess.open(entry, secrets: secrets)
                let manifests = try LifeboatError.wrapping { () throws(RepositoryError) in try repository.manifests() }
                let clusters = try LifeboatError.wrapping { () throws(RepositoryError) in
                    try repository.clusters(manifests: manifests)
                }
                repositories.append(Holding(name: name, repository: repository, manifests: manifests, clusters: clusters))
                if let warning = try LifeboatError.wrapping({ () throws(RepositoryError) in try repository.singleKeyWarning(now: now) }) {
                    warnings.append("repository \(name): \(warning)")
                }
            } catch {
                problems.append("repository \(name): \(error)")
            }
        }
        let positions = inventory.names(.databases).map { database -> DatabasePosition in
            var position = DatabasePosition(database: database)
            let live: String?
            do {
                live = try inventory.entry(.databases, database).flatMap { try ClusterLookup.systemIdentifier(of: $0, secrets: secrets) }
            } catch {
                // Which cluster it is cannot be told: no guess by name.
                position.problems.append("\(error)")
                return position
            }
            var best: (holding: Holding, cluster: ClusterSummary, evidence: ClusterLookup.Evidence, backup: BackupManifest)?
            for holding in repositories {
                let withBackups = holding.clusters.filter { $0.backups > 0 }
                let found: (cluster: ClusterSummary, evidence: ClusterLookup.Evidence)?
                do {
                    found = try ClusterLookup.match(database: database, liveIdentifier: live, in: withBackups)
                } catch {
                    problems.append("repository \(holding.name): \(error)")
                    continue
                }
                guard let (cluster, evidence) = found,
                      let newest = holding.manifests.last(where: { $0.systemIdentifier == cluster.systemIdentifier })
                else { continue }
                if best == nil || newest.stopTime > best!.backup.stopTime { best = (holding, cluster, evidence, newest) }
            }
            guard let best else { return position }
            position.repository = best.holding.name
            position.cluster = best.cluster
            position.clusterEvidence = best.evidence
            position.newestBackup = best.backup
            var newest: (String, Date)?
            do {
                for (_, files) in try best.holding.repository.walFiles(cluster: best.cluster.systemIdentifier) {
                    for file in files.suffix(4) {
                        if let time = try best.holding.repository.walArchiveTime(name: file, cluster: best.cluster.systemIdentifier),
                           time > (newest?.1 ?? .distantPast) {
                            newest = (file, time)
                        }
                    }
                }
            } catch {
                problems.append("repository \(best.holding.name): \(error)")
            }
            if let wal = newest, !best.backup.walIncluded {
                position.newestWAL = wal.0
                position.newestWALTime = wal.1
                position.exposure = max(0, now.timeIntervalSince(max(wal.1, best.backup.stopTime)))
            } else {
                position.exposure = now.timeIntervalSince(best.backup.stopTime)
            }
            return position
        }
        return (positions, problems, warnings)
    }
}
