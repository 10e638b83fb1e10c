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

    /// The ids to keep, given backups as (id, start time).
    public func keep(_ backups: [(id: String, time: Date)]) -> Set<String> {
        let newestFirst = backups.sorted { $0.time > $1.time }
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
    public var kept: [String]
    public var removed: [String]
    public var walRemoved: Int
    public var garbage: GarbageCollectionReport?
    public var dryRun: Bool

    enum CodingKeys: String, CodingKey {
        case kept, removed, garbage
        case walRemoved = "wal_removed", dryRun = "dry_run"
    }
}

extension BackupRepository {
    /// Removes the backups the policy does not keep, the WAL older than what the oldest kept backup needs, and then
    /// the chunks nothing refers to any more. Takes the repository lock exclusively.
    public func expire(_ policy: RetentionPolicy, dryRun: Bool = false) throws(RepositoryError) -> ExpireReport {
        guard !policy.isEmpty else {
            throw RepositoryError(.refused, "a retention policy needs at least one keep rule (last, daily, weekly, monthly, yearly)")
        }
        let manifests = try self.manifests()
        let keep = policy.keep(manifests.map { ($0.id, $0.startTime) })
        let removed = manifests.filter { !keep.contains($0.id) }.map(\.id)
        let kept = manifests.filter { keep.contains($0.id) }
        // WAL names sort by timeline, then position: everything before the oldest kept backup's first segment
        // (and not a .history file) is no longer needed by any kept backup.
        let oldestNeeded = kept.compactMap(\.walSegments.first).min()
        var walToRemove: [String] = []
        if let oldestNeeded {
            for (_, names) in try walFiles() {
                walToRemove += names.filter { !$0.hasSuffix(".history") && String($0.prefix(24)) < oldestNeeded }
            }
        }
        guard !dryRun else {
            return ExpireReport(kept: kept.map(\.id), removed: removed, walRemoved: walToRemove.count, garbage: nil, dryRun: true)
        }
        do {
            let lock = try RepositoryLock.acquire(self, .exclusive, timeout: 0)
            defer { withExtendedLifetime(lock) {} }
            for id in removed {
                try store.remove(Self.manifestPath(id))
            }
            try store.removeEmptyFolders("backups")
            try store.makeDurable()
            for name in walToRemove { try removeWAL(name: name) }
        }
        let garbage = try collectGarbage()
        return ExpireReport(kept: kept.map(\.id), removed: removed, walRemoved: walToRemove.count, garbage: garbage,
                            dryRun: false)
    }
}
