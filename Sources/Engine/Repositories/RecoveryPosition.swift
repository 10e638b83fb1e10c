import Foundation
import Plans
import Repository

/// Where each inventory database stands right now: its newest backup, the newest WAL archived beside it, and the
/// RPO exposure (how much committed work a disaster now would lose, at most).
public struct DatabasePosition: Sendable {
    public var database: String
    public var repository: String?
    public var newestBackup: BackupManifest?
    public var newestWAL: String?
    public var newestWALTime: Date?
    /// Seconds since the newest archived WAL (or the newest backup, when backups carry their own WAL); nil when
    /// the database has no backup at all.
    public var exposure: Double?
}

public enum RecoveryPosition {
    /// Reads every inventory repository once. Repositories that cannot be opened are named in `problems`.
    public static func scan(_ inventory: Inventory, secrets: SecretResolver, now: Date = Date())
        -> (positions: [DatabasePosition], problems: [String]) {
        var repositories: [(name: String, manifests: [BackupManifest], newestWAL: (String, Date)?)] = []
        var problems: [String] = []
        for name in inventory.names(.repositories) {
            guard let entry = inventory.entry(.repositories, name) else { continue }
            do {
                let repository = try RepositoryAccess.open(entry, secrets: secrets)
                let manifests = try LifeboatError.wrapping { () throws(RepositoryError) in try repository.manifests() }
                var newest: (String, Date)?
                for (_, files) in try repository.walFiles() {
                    for file in files.suffix(4) {
                        if let time = try repository.walArchiveTime(name: file), time > (newest?.1 ?? .distantPast) {
                            newest = (file, time)
                        }
                    }
                }
                repositories.append((name, manifests, newest))
            } catch {
                problems.append("repository \(name): \(error)")
            }
        }
        let positions = inventory.names(.databases).map { database -> DatabasePosition in
            var position = DatabasePosition(database: database)
            let holding = repositories.compactMap { repository -> (String, BackupManifest, (String, Date)?)? in
                guard let newest = repository.manifests.last(where: { $0.source == database }) else { return nil }
                return (repository.name, newest, repository.newestWAL)
            }.max { $0.1.stopTime < $1.1.stopTime }
            if let (repository, backup, wal) = holding {
                position.repository = repository
                position.newestBackup = backup
                if let wal, !backup.walIncluded {
                    position.newestWAL = wal.0
                    position.newestWALTime = wal.1
                    position.exposure = max(0, now.timeIntervalSince(max(wal.1, backup.stopTime)))
                } else {
                    position.exposure = now.timeIntervalSince(backup.stopTime)
                }
            }
            return position
        }
        return (positions, problems)
    }
}
