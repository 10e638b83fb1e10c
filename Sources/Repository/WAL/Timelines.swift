import Foundation

/// One timeline of a cluster's archive.
public struct ArchivedTimeline: Sendable, Equatable {
    public var timeline: UInt32
    /// Its `.history` file (nil for timeline 1, or when it was never archived).
    public var history: TimelineHistory?
    /// Its newest archived segment (by position), and when that reached the archive.
    public var newestSegment: String?
    public var newestArchived: Date?

    /// 8 hex digits, as in WAL file names.
    public var hex: String { WALRange.hex8(UInt64(timeline)) }

    /// Whether a backup on `timeline`, consistent at `stopLSN`, can recover onto this timeline.
    public func accepts(timeline backupTimeline: UInt32, stopLSN: UInt64) -> Bool {
        if backupTimeline == timeline { return true }
        return history?.contains(timeline: backupTimeline, at: stopLSN) ?? false
    }
}

extension BackupRepository {
    /// The timelines of a cluster's archive, lowest first, with their histories (read and checked: an unreadable
    /// history is damage) and newest segments. With `archivedBefore`, the archive as it was then.
    public func archivedTimelines(cluster: String, archivedBefore: Date? = nil) throws(RepositoryError) -> [ArchivedTimeline] {
        var result: [ArchivedTimeline] = []
        for (hex, names) in try walFiles(cluster: cluster).sorted(by: { $0.key < $1.key }) {
            guard let number = UInt32(hex, radix: 16) else { continue }
            var timeline = ArchivedTimeline(timeline: number)
            let historyName = hex + ".history"
            // A history archived after the cut-off is not part of the archive as it was then.
            var historyArchived = names.contains(historyName)
            if historyArchived, let archivedBefore, let time = try walArchiveTime(name: historyName, cluster: cluster),
               time >= archivedBefore {
                historyArchived = false
            }
            if historyArchived {
                guard let bytes = try fetchWAL(name: historyName, cluster: cluster) else {
                    throw RepositoryError(.io, "\(historyName) of cluster \(cluster) vanished while it was read")
                }
                guard let history = TimelineHistory(timeline: number, text: String(decoding: bytes, as: UTF8.self)) else {
                    throw RepositoryError(.damaged, "the archived \(historyName) of cluster \(cluster) cannot be read as a timeline history")
                }
                timeline.history = history
            }
            // The newest segment archived (before the cut-off, when given).
            for name in names.filter(WALFileName.isSegment).reversed() {
                guard let time = try walArchiveTime(name: name, cluster: cluster) else { continue }
                if let archivedBefore, time >= archivedBefore { continue }
                timeline.newestSegment = name
                timeline.newestArchived = time
                break
            }
            if timeline.newestArchived == nil, timeline.history != nil,
               let time = try walArchiveTime(name: historyName, cluster: cluster),
               archivedBefore.map({ time < $0 }) ?? true {
                timeline.newestArchived = time
            }
            if archivedBefore != nil && timeline.newestArchived == nil && timeline.history == nil { continue }
            result.append(timeline)
        }
        return result
    }

    /// The timeline still being archived: the one whose newest segment reached the archive last. A restored or
    /// promoted test server that archived its own timeline here stops archiving when it is stopped; production goes
    /// on, so `latest` keeps following production rather than the highest timeline number.
    public static func currentTimeline(_ timelines: [ArchivedTimeline]) -> ArchivedTimeline? {
        timelines.filter { $0.newestArchived != nil }.max { a, b in
            a.newestArchived! != b.newestArchived! ? a.newestArchived! < b.newestArchived! : a.timeline < b.timeline
        }
    }
}
