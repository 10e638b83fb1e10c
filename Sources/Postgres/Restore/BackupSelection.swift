import Foundation
import Repository
import LifeboatCore

/// Which timeline recovery follows.
public enum TimelineChoice: Sendable, Equatable {
    /// The one still being archived (Lifeboat's default): production's, not a test restore's that archived here.
    case current
    /// PostgreSQL's own `latest`: the highest timeline whose history the archive holds.
    case latest
    case number(UInt32)

    /// `--target-timeline`: a number, `latest` or `current`.
    public init?(_ text: String) {
        switch text {
        case "current": self = .current
        case "latest": self = .latest
        default:
            let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
            guard let number = UInt32(digits, radix: text.hasPrefix("0x") ? 16 : 10), number > 0 else { return nil }
            self = .number(number)
        }
    }
}

/// Whether the restored server may archive.
public enum ArchiveMode: String, Sendable, Equatable {
    /// `archive_mode = off` in the restored configuration (the default): a test or point-in-time restore never
    /// archives into the repository it came from.
    case off
    /// The backup's own settings: for a real failover or migration, where the restored server becomes production.
    case preserve
}

/// The backup and timeline a restore uses, and why.
public struct RecoverySelection: Sendable {
    public var manifest: BackupManifest
    public var cluster: ClusterSummary
    /// The timeline recovery follows; nil for PostgreSQL's `latest` (`--target-timeline latest`).
    public var timeline: UInt32?
    /// Whether `recovery_target_timeline` must name it: PostgreSQL's own `latest` would follow another timeline.
    /// Otherwise `latest` is written, which standbys cloned from the restored server can live with (an explicit
    /// number stays in `postgresql.auto.conf` and would keep them from following a later promotion).
    public var timelineMustBeNamed = false
    /// How the timeline was chosen, in words, for the restore's output.
    public var timelineReason: String
    /// With a named target: the restore point recovery stops at.
    public var restorePoint: RestorePoints.Found?
    /// What the operator should know (several timelines branching apart, …).
    public var warnings: [String] = []
    /// A hole in the archive between the backup and the target: recovery would stop before the target.
    public var gap: WALGap?
}

extension Restore {
    /// Chooses the cluster, the timeline and the backup for a restore.
    ///
    /// - cluster: the given backup's, else `cluster` (a name or system identifier), else the only cluster with
    ///   backups (several: an error listing them);
    /// - timeline: `--target-timeline`, else the one still being archived (`currentTimeline`), else the backup's;
    /// - backup: the given one, else the newest of the cluster that can recover onto that timeline and was
    ///   consistent before the target (its stop time before a target time, its stop LSN before a target LSN) and
    ///   before `finishedBefore`.
    public static func select(_ repository: BackupRepository, backup id: String?, cluster selector: String?,
                              target: RecoveryTarget, timeline choice: TimelineChoice = .current,
                              finishedBefore: Date? = nil, archivedBefore: Date? = nil) throws -> RecoverySelection {
        let manifests = try repository.manifests()
        let clusters = try repository.clusters(manifests: manifests)
        var explicit: BackupManifest?
        if let id, id != "latest" {
            guard let found = manifests.first(where: { $0.id == id }) else {
                throw RepositoryError(.notFound, "no backup \(id) in \(repository.location)",
                                      hint: "`lifeboat backup list` shows the backups")
            }
            explicit = found
        }
        let cluster: ClusterSummary
        if let explicit {
            cluster = try repository.resolveCluster(explicit.systemIdentifier, among: clusters)
            if let selector, try repository.resolveCluster(selector, among: clusters).systemIdentifier != cluster.systemIdentifier {
                throw RestoreError(description: "backup \(explicit.id) is of cluster \(cluster.label), not of '\(selector)'",
                                   damaged: false)
            }
        } else if let selector {
            cluster = try repository.resolveCluster(selector, among: clusters, withBackups: true)
        } else {
            cluster = try repository.onlyCluster(among: clusters)
        }
        let own = manifests.filter { $0.systemIdentifier == cluster.systemIdentifier }
        let timelines = try repository.archivedTimelines(cluster: cluster.systemIdentifier, archivedBefore: archivedBefore)

        // Backups consistent before the target.
        let targetTime: Date?
        if case .time(let text) = target {
            guard let time = parseTime(text) else {
                throw RestoreError(description: "cannot read target time '\(text)' (use e.g. 2026-11-26T02:30:00Z)",
                                   damaged: false)
            }
            targetTime = time
        } else {
            targetTime = nil
        }
        var targetLSN: UInt64?
        if case .lsn(let text) = target {
            guard let position = WALRange.parse(text) else {
                throw RestoreError(description: "cannot read target LSN '\(text)' (use e.g. 0/3000060)", damaged: false)
            }
            targetLSN = position
        }
        let before = [targetTime, finishedBefore].compactMap { $0 }.min()
        func beforeTarget(_ manifest: BackupManifest) -> Bool {
            if let before, manifest.stopTime > before { return false }
            if let targetLSN, (manifest.stopPosition ?? .max) > targetLSN { return false }
            return true
        }
        // With a named target: the newest backup with a restore point of that name after it (searched backwards,
        // one span between backups at a time, so only the WAL after the restore point is read).
        var restorePoint: RestorePoints.Found?
        func pick(_ candidates: [BackupManifest], _ timeline: ArchivedTimeline?) throws -> BackupManifest? {
            guard case .name(let name) = target, !candidates.isEmpty else { return candidates.last }
            var upper: UInt64?
            for candidate in candidates.reversed() {
                guard let stop = candidate.stopPosition, candidate.walSegmentSize > 0 else { continue }
                let found = try RestorePoints.find(name, in: repository, cluster: cluster.systemIdentifier, timeline: timeline,
                                                   backupTimeline: UInt32(candidate.timeline), from: stop, through: upper,
                                                   segmentSize: UInt64(candidate.walSegmentSize))
                if let first = found.first {
                    restorePoint = first
                    return candidate
                }
                upper = stop
            }
            throw RepositoryError(.notFound, "no restore point named '\(name)' in the archive of cluster \(cluster.label) "
                + "after any of its backups" + (timeline.map { " on timeline \($0.timeline)" } ?? ""),
                hint: "restore points are made with SELECT pg_create_restore_point('name'); the name is case-sensitive")
        }
        func describe(_ timeline: ArchivedTimeline) -> String {
            guard let segment = timeline.newestSegment, let time = timeline.newestArchived else {
                return "timeline \(timeline.timeline)"
            }
            return "timeline \(timeline.timeline) (its newest segment \(segment) archived \(isoTime(time)))"
        }

        var selection: RecoverySelection
        switch choice {
        case .latest:
            guard let chosen = try explicit ?? pick(own.filter(beforeTarget), nil) else {
                throw noBackup(repository, cluster, target, before)
            }
            selection = RecoverySelection(manifest: chosen, cluster: cluster, timeline: nil,
                                          timelineReason: "the highest timeline in the archive (--target-timeline latest, PostgreSQL's rule)")
        case .number(let number):
            let archived = timelines.first { $0.timeline == number }
            func reaches(_ manifest: BackupManifest) -> Bool {
                UInt32(manifest.timeline) == number
                    || (archived?.accepts(timeline: UInt32(manifest.timeline), stopLSN: manifest.stopPosition ?? .max) ?? false)
            }
            if let explicit, !reaches(explicit) {
                throw RestoreError(description: "backup \(explicit.id) (timeline \(explicit.timeline), stop \(explicit.stopLSN)) "
                    + "cannot recover onto timeline \(number)", damaged: false)
            }
            guard let chosen = try explicit ?? pick(own.filter { beforeTarget($0) && reaches($0) }, archived) else {
                throw noBackup(repository, cluster, target, before, timeline: number)
            }
            selection = RecoverySelection(manifest: chosen, cluster: cluster, timeline: number,
                                          timelineReason: "timeline \(number) (--target-timeline)")
        case .current:
            let current = BackupRepository.currentTimeline(timelines)
            // The timeline still being archived must say where it branched off: without its history it cannot be
            // followed, and following an older one instead would silently leave out everything after the branch.
            if let current, current.timeline > 1, current.history == nil {
                throw RestoreError(description: "timeline \(current.timeline) of cluster \(cluster.label) is the one still being "
                    + "archived, but its \(current.hex).history is missing from the archive; refusing to choose another timeline "
                    + "(--target-timeline N follows one on purpose)", damaged: true)
            }
            func reaches(_ manifest: BackupManifest, _ timeline: ArchivedTimeline?) -> Bool {
                guard let timeline else { return true }
                return timeline.accepts(timeline: UInt32(manifest.timeline), stopLSN: manifest.stopPosition ?? .max)
            }
            if let explicit {
                let timeline = reaches(explicit, current) ? current
                    : BackupRepository.recoveryTimeline(backupTimeline: UInt32(explicit.timeline),
                                                        stopLSN: explicit.stopPosition ?? .max, timelines: timelines)
                let number = timeline?.timeline ?? UInt32(explicit.timeline)
                var reason = timeline.map(describe) ?? "timeline \(number) (the backup's; no WAL archived)"
                if let current, timeline != current {
                    reason += "; backup \(explicit.id) cannot reach timeline \(current.timeline), the one archived last"
                } else if timeline != nil {
                    reason += ", the one still being archived"
                }
                selection = RecoverySelection(manifest: explicit, cluster: cluster, timeline: number, timelineReason: reason)
            } else if let chosen = try pick(own.filter { beforeTarget($0) && reaches($0, current) }, current) {
                let number = current?.timeline ?? UInt32(chosen.timeline)
                selection = RecoverySelection(manifest: chosen, cluster: cluster, timeline: number,
                                              timelineReason: current.map { describe($0) + ", the one still being archived" }
                                                ?? "timeline \(number) (the backup's; no WAL archived)")
            } else {
                // No backup reaches the timeline archived last: the newest backup, on the timeline it reaches.
                guard let newest = own.last(where: beforeTarget) else { throw noBackup(repository, cluster, target, before) }
                let timeline = BackupRepository.recoveryTimeline(backupTimeline: UInt32(newest.timeline),
                                                                 stopLSN: newest.stopPosition ?? .max, timelines: timelines)
                guard let chosen = try pick(own.filter { beforeTarget($0) && reaches($0, timeline) }, timeline) else {
                    throw noBackup(repository, cluster, target, before)
                }
                let number = timeline?.timeline ?? UInt32(chosen.timeline)
                selection = RecoverySelection(manifest: chosen, cluster: cluster, timeline: number,
                                              timelineReason: (timeline.map(describe) ?? "timeline \(number)")
                                                + "; no backup before the target reaches timeline \(current?.timeline ?? 0), the one archived last")
            }
        }
        selection.restorePoint = restorePoint
        // PostgreSQL's `latest`: the highest timeline of consecutive history files from the backup's timeline.
        var postgresLatest = UInt32(selection.manifest.timeline)
        while timelines.contains(where: { $0.timeline == postgresLatest + 1 && $0.history != nil }) { postgresLatest += 1 }
        if case .number = choice {
            selection.timelineMustBeNamed = true
        } else if let chosen = selection.timeline {
            selection.timelineMustBeNamed = postgresLatest != chosen
        }
        // The WAL from the backup to the target must all be there.
        let reach: RecoveryReach
        switch target {
        case .latest: reach = .newest
        case .immediate: reach = .position(selection.manifest.stopPosition ?? 0)
        case .time: reach = targetTime.map(RecoveryReach.time) ?? .newest
        case .lsn: reach = .position(targetLSN ?? 0)
        case .name: reach = restorePoint.map { .position($0.lsn) } ?? .newest
        }
        selection.gap = try repository.walGap(for: selection.manifest, timeline: selection.timeline ?? postgresLatest,
                                              reach: reach, archivedBefore: archivedBefore)
        // A time target PostgreSQL reaches before the gap: a commit or abort after it is in the WAL before the gap.
        if let gap = selection.gap, let targetTime, selection.manifest.walSegmentSize > 0 {
            let followed = timelines.first { $0.timeline == (selection.timeline ?? postgresLatest) }
            if let last = try RestorePoints.lastTransactionTime(
                before: gap.segment, from: gap.firstSegment, in: repository, cluster: cluster.systemIdentifier,
                timeline: followed, backupTimeline: UInt32(selection.manifest.timeline),
                segmentSize: UInt64(selection.manifest.walSegmentSize)), last > targetTime {
                selection.gap = nil
            }
        }
        // Timelines the followed one does not contain (a branch that went its own way): say they were left aside.
        if let chosen = selection.timeline {
            let lineage = Set((timelines.first { $0.timeline == chosen }?.history?.ancestors.map(\.parent) ?? []) + [chosen])
            // Those the backup could have reached instead: its own timeline, or ones descending from it.
            let own = UInt32(selection.manifest.timeline)
            let others = timelines.filter { timeline in
                !lineage.contains(timeline.timeline)
                    && (timeline.timeline == own || (timeline.history?.ancestors.contains { $0.parent == own } ?? false))
            }
            if !others.isEmpty {
                selection.warnings.append("cluster \(cluster.label) has \(others.count + 1) timelines that branch apart in "
                    + "the archive; following timeline \(chosen), not " + others.map(describe).joined(separator: "; ")
                    + ". A restored copy or standby promoted elsewhere may have archived here; --target-timeline N follows another")
            }
        }
        return selection
    }

    private static func noBackup(_ repository: BackupRepository, _ cluster: ClusterSummary, _ target: RecoveryTarget,
                                 _ before: Date?, timeline: UInt32? = nil) -> RestoreError {
        var text = "repository \(repository.location) has no backup of cluster \(cluster.label)"
        if let timeline { text += " that can recover onto timeline \(timeline)" }
        if let before { text += " that finished before \(isoTime(before))" }
        if case .lsn(let lsn) = target { text += " that was consistent before LSN \(lsn)" }
        return RestoreError(description: text, damaged: false)
    }

    static func isoTime(_ date: Date) -> String { Formatted.timestamp(date) }
}
