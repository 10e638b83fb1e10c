import Foundation
import LifeboatCore

/// A hole in a cluster's archive on the way from a backup to a recovery target: recovery stops before it.
public struct WALGap: Sendable, Equatable, CustomStringConvertible {
    /// The first segment missing.
    public var missing: String
    /// The last segment before it (recovery replays up to its end), and when it was archived.
    public var lastPresent: String?
    public var lastPresentArchived: Date?
    /// Where recovery stops: the start of the missing segment.
    public var stopsAt: UInt64
    /// The missing segment's number and the backup's first (for reading the WAL before the gap).
    public var segment: UInt64 = 0
    public var firstSegment: UInt64 = 0

    public var description: String {
        var text = "WAL segment \(missing) is missing from the archive: recovery stops at \(WALRange.format(stopsAt))"
        if let lastPresent {
            text += ", the end of \(lastPresent)"
            if let lastPresentArchived {
                text += " (archived \(Formatted.timestamp(lastPresentArchived)))"
            }
        }
        return text
    }
}

/// How far a recovery must replay the archive.
public enum RecoveryReach: Sendable, Equatable {
    /// To the newest segment archived (`latest`).
    case newest
    /// To the segment holding this position (an LSN target, a restore point, or the backup's own end).
    case position(UInt64)
    /// To the WAL written at this time: the first gap is returned; whether a commit after the time comes before it
    /// takes reading the WAL (`RestorePoints.lastTransactionTime`).
    case time(Date)
}

extension BackupRepository {
    /// The first gap in the WAL recovery from `manifest` reads, following `timeline` (nil: the one a restore
    /// follows by default) as far as `reach`, in the archive as it was before `archivedBefore`; nil when the chain
    /// is whole. WAL the backup carries itself is not looked for.
    public func walGap(for manifest: BackupManifest, timeline follow: UInt32?, reach: RecoveryReach,
                       archivedBefore: Date? = nil) throws(RepositoryError) -> WALGap? {
        let size = UInt64(manifest.walSegmentSize)
        guard size > 0, let firstName = manifest.walSegments.first,
              let first = WALRange.segmentNumber(firstName, segmentSize: size) else { return nil }
        let cluster = manifest.systemIdentifier
        let archive = try walFiles(cluster: cluster)
        let timelines = try archivedTimelines(cluster: cluster, archivedBefore: archivedBefore)
        let newestByTimeline: [String: UInt64] = timelines.reduce(into: [:]) { result, timeline in
            if let name = timeline.newestSegment, let number = WALRange.segmentNumber(name, segmentSize: size) {
                result[timeline.hex] = number
            }
        }
        var chain = walChain(manifest, archive: archive, timelines: timelines, segmentSize: size, first: first,
                             follow: follow, newest: { newestByTimeline[$0] })
        // The backup's own segments are needed whatever the target (from the archive unless it carries them).
        if !manifest.walIncluded, let last = manifest.walSegments.last.flatMap({ WALRange.segmentNumber($0, segmentSize: size) }) {
            let own = WALRange.hex8(UInt64(manifest.timeline))
            if !chain.contains(where: { $0.0 == own && $0.1.contains(last) }) { chain.insert((own, first...last), at: 0) }
        }
        var limit: UInt64?
        if case .position(let lsn) = reach { limit = lsn / size }
        var previous: (name: String, timeline: String)?
        for (timeline, range) in chain {
            let present = Set((archive[timeline] ?? []).filter(WALFileName.isSegment)
                .compactMap { WALRange.segmentNumber($0, segmentSize: size) })
            for number in range {
                if let limit, number > limit { return nil }
                let name = WALRange.segmentName(timeline: timeline, segment: number, segmentSize: size)
                let own = manifest.walIncluded && manifest.walSegments.contains(name)
                // As the archive was before the cut-off (a drill): a segment archived later is not there.
                var there = present.contains(number)
                if there, let archivedBefore, let time = try walArchiveTime(name: name, cluster: cluster), time >= archivedBefore {
                    there = false
                }
                if there || own {
                    previous = (name, timeline)
                    continue
                }
                var archived: Date?
                if let previous { archived = try walArchiveTime(name: previous.name, cluster: cluster) }
                // (A time target may be reached before the gap: the restore's selection reads the WAL to tell.)
                return WALGap(missing: name, lastPresent: previous?.name, lastPresentArchived: archived, stopsAt: number * size,
                              segment: number, firstSegment: first)
            }
        }
        return nil
    }
}
