import Foundation

/// `20261126T023000Z`: a UTC time to the second that sorts as text. Backup ids and run ids are made of it.
public enum CompactTimestamp {
    public static func string(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}

extension BackupRepository {
    /// A new backup's id and start time: the start time itself, waiting for the next second when a backup with
    /// this second's id exists.
    public func newBackupId() throws(RepositoryError) -> (id: String, started: Date) {
        var started = Date()
        var id = CompactTimestamp.string(started)
        let existing = Set(try backupIds())
        while existing.contains(id) {
            Thread.sleep(forTimeInterval: 0.2)
            started = Date()
            id = CompactTimestamp.string(started)
        }
        return (id, started)
    }
}
