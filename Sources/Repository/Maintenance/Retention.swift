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

        enum CodingKeys: String, CodingKey {
            case name, kept, removed
            case systemIdentifier = "system_identifier", walRemoved = "wal_removed"
        }
    }

    public var kept: [String]
    public var removed: [String]
    public var walRemoved: Int
    /// The same, per cluster: a policy keeps its backups of each cluster.
    public var clusters: [Cluster]
    public var garbage: GarbageCollectionReport?
    public var dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case kept, removed, garbage, clusters
        case walRemoved = "wal_removed", dryRun = "dry_run"
    }
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
            let keep = policy.keep(own.map { ($0.id, $0.startTime) })
            let kept = own.filter { keep.contains($0.id) }
            let removed = own.filter { !keep.contains($0.id) }.map(\.id)
            // WAL names sort by timeline, then position: everything before the oldest kept backup's first segment
            // (and not a .history file) is no longer needed by any kept backup of this cluster.
            var walRemoved = 0
            if let oldestNeeded = kept.compactMap(\.walSegments.first).min() {
                for (_, names) in try walFiles(cluster: summary.systemIdentifier) {
                    for name in names where !name.hasSuffix(".history") && String(name.prefix(24)) < oldestNeeded {
                        walToRemove.append((summary.systemIdentifier, name))
                        walRemoved += 1
                    }
                }
            }
            report.clusters.append(ExpireReport.Cluster(systemIdentifier: summary.systemIdentifier, name: summary.displayName,
                                                        kept: kept.map(\.id), removed: removed, walRemoved: walRemoved))
            report.kept += kept.map(\.id)
            report.removed += removed
            report.walRemoved += walRemoved
            removedIds += removed
        }
        guard !dryRun else { return report }
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
