import Foundation

/// Which backups to keep: the newest `last`, and the newest backup of each of the newest `daily` days, `weekly`
/// ISO weeks, `monthly` months and `yearly` years (UTC) that have backups. A backup kept by any rule is kept;
/// the newest backup is always kept.
public struct RetentionPolicy: Codable, Sendable, Equatable {
    public var last: Int?
    public var daily: Int?
    public var weekly: Int?
    public var monthly: Int?
    public var yearly: Int?

    public init(last: Int? = nil, daily: Int? = nil, weekly: Int? = nil, monthly: Int? = nil, yearly: Int? = nil) {
        self.last = last
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
    }

    public var isEmpty: Bool { [last, daily, weekly, monthly, yearly].allSatisfy { ($0 ?? 0) == 0 } }

    /// The ids to keep, given backups as (id, start time), oldest first (the order decides between equal times).
    public func keep(_ backups: [(id: String, time: Date)]) -> Set<String> {
        let newestFirst = Array(backups.enumerated().sorted { ($0.element.time, $0.offset) > ($1.element.time, $1.offset) }
            .map(\.element))
        var kept = Set<String>()
        if let newest = newestFirst.first { kept.insert(newest.id) }
        for backup in newestFirst.prefix(last ?? 0) { kept.insert(backup.id) }
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let rules: [(Int?, (Date) -> String)] = [
            (daily, { let c = calendar.dateComponents([.year, .month, .day], from: $0); return "\(c.year!)-\(c.month!)-\(c.day!)" }),
            (weekly, { let c = calendar.dateComponents([.yearForWeekOfYear, .weekOfYear], from: $0); return "\(c.yearForWeekOfYear!)-W\(c.weekOfYear!)" }),
            (monthly, { let c = calendar.dateComponents([.year, .month], from: $0); return "\(c.year!)-\(c.month!)" }),
            (yearly, { "\(calendar.component(.year, from: $0))" }),
        ]
        for (count, bucket) in rules {
            guard let count, count > 0 else { continue }
            var seen = Set<String>()
            for backup in newestFirst {
                let key = bucket(backup.time)
                if seen.contains(key) { continue }
                seen.insert(key)
                kept.insert(backup.id)
                if seen.count == count { break }
            }
        }
        return kept
    }
}

public struct ExpireReport: Codable, Sendable {
    /// What the policy did to one cluster.
    public struct Cluster: Codable, Sendable {
        public var systemIdentifier: String
        public var name: String
        public var kept: [String]
        public var removed: [String]
        public var walRemoved: Int
    }

    public var kept: [String]
    public var removed: [String]
    public var walRemoved: Int
    /// The same, per cluster: a policy keeps its backups of each cluster.
    public var clusters: [Cluster]
    public var garbage: GarbageCollectionReport?
    public var dryRun: Bool
}

extension BackupRepository {
    /// Removes the backups the policy does not keep, the WAL older than what the oldest kept backup needs, and then
    /// the chunks nothing refers to any more. The policy applies to each cluster on its own (`keep last 1` keeps
    /// the newest backup of every cluster), or only to `cluster` when given. Takes the repository lock exclusively.
    public func expire(_ policy: RetentionPolicy, cluster: String? = nil, dryRun: Bool = false)
        throws(RepositoryError) -> ExpireReport {
        try requireCurrentFormat()
        guard !policy.isEmpty else {
            throw RepositoryError(.refused, "a retention policy needs at least one keep rule (last, daily, weekly, monthly, yearly)")
        }
        // The lock first, so that the backups judged are the ones removed (a backup committing meanwhile waits).
        let lock = dryRun ? nil : try RepositoryLock.acquire(self, .exclusive, timeout: 0)
        defer { withExtendedLifetime(lock) {} }
        let manifests = try self.manifests()
        let summaries = try clusters(manifests: manifests)
        var report = ExpireReport(kept: [], removed: [], walRemoved: 0, clusters: [], garbage: nil, dryRun: dryRun)
        var walToRemove: [(cluster: String, name: String)] = []
        var removedIds: [String] = []
        for summary in summaries where cluster == nil || summary.systemIdentifier == cluster {
            let own = manifests.filter { $0.systemIdentifier == summary.systemIdentifier }
            guard !own.isEmpty else { continue }
            let timelines = try archivedTimelines(cluster: summary.systemIdentifier)
            // The policy keeps backups of each line of history on its own: for every timeline, the backups that can
            // recover onto it. A copy restored elsewhere that archives its own timeline here (same system
            // identifier) then cannot push production's backups out, nor the other way round — which of the two
            // is production cannot be told from the archive. A timeline a failover recorded as superseded
            // (`postgres.rebaseline`) is no line of its own: its backups reach the new one and age out with it.
            let superseded = Set(try clusterRecord(summary.systemIdentifier)?.supersededTimelines ?? [])
            var lines = Set(timelines.map(\.timeline)).union(own.map { UInt32($0.timeline) })
            lines.subtract(superseded)
            var keep = Set<String>()
            for line in lines {
                let info = timelines.first { $0.timeline == line }
                let group = own.filter { manifest in
                    UInt32(manifest.timeline) == line
                        || (info?.accepts(timeline: UInt32(manifest.timeline), stopLSN: manifest.stopPosition ?? .max) ?? false)
                }
                keep.formUnion(policy.keep(group.map { ($0.id, $0.startTime) }))
            }
            // A backup on no line left (its timeline superseded, reaching no other): kept by the policy among those.
            let orphans = own.filter { manifest in
                !lines.contains { line in
                    UInt32(manifest.timeline) == line || (timelines.first { $0.timeline == line }?
                        .accepts(timeline: UInt32(manifest.timeline), stopLSN: manifest.stopPosition ?? .max) ?? false)
                }
            }
            keep.formUnion(policy.keep(orphans.map { ($0.id, $0.startTime) }))
            let kept = own.filter { keep.contains($0.id) }
            let removed = own.filter { !keep.contains($0.id) }.map(\.id)
            let wal = try walFiles(cluster: summary.systemIdentifier)
            let walRemoved = Self.unneededWAL(wal, kept: kept, timelines: timelines)
            walToRemove += walRemoved.map { (summary.systemIdentifier, $0) }
            report.clusters.append(ExpireReport.Cluster(systemIdentifier: summary.systemIdentifier, name: summary.displayName,
                                                        kept: kept.map(\.id), removed: removed, walRemoved: walRemoved.count))
            report.kept += kept.map(\.id)
            report.removed += removed
            report.walRemoved += walRemoved.count
            removedIds += removed
        }
        guard !dryRun else { return report }
        // Nothing of a cluster a recovery is still reading (its WAL, the backups it may fall back to).
        let affected = Set(report.clusters.filter { !$0.removed.isEmpty || $0.walRemoved > 0 }.map(\.systemIdentifier))
        let leases = try recoveryLeases().filter { affected.contains($0.cluster) }
        if !leases.isEmpty {
            throw RepositoryError(.locked, "a recovery is reading the archive of cluster "
                + "\(Set(leases.map(\.cluster)).sorted().joined(separator: ", ")): "
                + leases.map(\.description).joined(separator: "; ") + "; nothing was removed",
                hint: "run expire again when it has finished (a lease ends with its drill, or \(Int(Self.leaseStaleAfter / 3600)) h "
                    + "after PostgreSQL's last WAL fetch); if that recovery is over, `--end-lease \(leases[0].id)` ends it")
        }
        try lock?.confirm()
        // The count gc will find, recorded first: a crash after this leaves it low, which is safe.
        try recordBackupCount(try backupIds().count - removedIds.count)
        for id in removedIds {
            try store.remove(Self.manifestPath(id))
        }
        try store.removeEmptyFolders("backups")
        try store.makeDurable()
        for (cluster, name) in walToRemove { try removeWAL(name: name, cluster: cluster) }
        withExtendedLifetime(lock) {}
        report.garbage = try collectGarbage(holding: lock)
        return report
    }
}

extension BackupRepository {
    /// The WAL files no kept backup needs, timeline by timeline: on a timeline with kept backups, what comes before
    /// the first segment of the oldest of them; on a timeline that kept backups of an ancestor reach, nothing; on a
    /// timeline no kept backup reaches (a branch nobody restores onto any more, an old timeline after a failover),
    /// all of it — unless its history is unknown. History files always stay.
    static func unneededWAL(_ wal: [String: [String]], kept: [BackupManifest], timelines: [ArchivedTimeline]) -> [String] {
        var result: [String] = []
        for (hex, names) in wal {
            guard let number = UInt32(hex, radix: 16) else { continue }
            let info = timelines.first { $0.timeline == number }
            let onIt = kept.filter { UInt32($0.timeline) == number }
            let reaching = kept.filter { UInt32($0.timeline) != number
                && (info?.accepts(timeline: UInt32($0.timeline), stopLSN: $0.stopPosition ?? .max) ?? false) }
            let cutoff: String?
            if !reaching.isEmpty {
                cutoff = nil
            } else if let first = onIt.compactMap(\.walSegments.first).min() {
                cutoff = first
            } else if number > 1 && info?.history == nil {
                cutoff = nil  // no history: which backups reach it cannot be told; keep it
            } else if kept.isEmpty {
                cutoff = nil
            } else {
                cutoff = String(repeating: "F", count: 24)
            }
            guard let cutoff else { continue }
            result += names.filter { !$0.hasSuffix(".history") && String($0.prefix(24)) < cutoff }
        }
        return result.sorted()
    }
}
