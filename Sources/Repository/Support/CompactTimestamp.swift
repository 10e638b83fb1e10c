import Foundation
import Synchronization
import LifeboatCrypto
import LifeboatCore

/// Ids handed out by this process, so that two backups it starts in one second never draw the same suffix.
private let issuedIds = Mutex<Set<String>>([])

extension BackupRepository {
    /// A new backup's id and start time: the time to the second and a random suffix (`20261202T062105Z-3fa1`), so
    /// that backups started in the same second each get their own. Call it holding the repository lock; an id that
    /// exists (or that this process handed out) is drawn again, and `commitNew` draws another should a second
    /// process have committed the same one meanwhile.
    public func newBackupId(startedAt: Date = Date()) throws(RepositoryError) -> (id: String, started: Date) {
        let existing = Set(try backupIds())
        return issuedIds.withLock { issued in
            while true {
                let id = Formatted.compactTimestamp(startedAt) + "-" + SecureRandom.hex(2)
                if !existing.contains(id) && issued.insert(id).inserted { return (id, startedAt) }
            }
        }
    }
}
