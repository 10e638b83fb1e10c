import Foundation
import Mirrors
import Plans
import LifeboatCore

/// Where every inventory database and git mirror stands against its recovery objectives: one decision, used by
/// `lifeboat status`, the daemon's RPO watch and its metrics, so that they can never disagree.
///
/// Targets, first found wins:
/// - RPO: the caller's override (`status --rpo`), the database's `rpo` in the inventory, the RPO target of the plan
///   of its last drill, else 1 hour;
/// - RTO: the caller's override (`status --rto`), the RTO target of the plan of its last drill, else 4 hours;
/// - a mirror's RPO: the caller's override, else 1 hour.
public struct RecoveryStatus: Sendable, Encodable {
    public static let defaultRPO: Double = 3600
    public static let defaultRTO: Double = 4 * 3600

    /// Targets that replace every database's own (seconds).
    public struct Overrides: Sendable {
        public var rpo: Double?
        public var rto: Double?
        public init(rpo: Double? = nil, rto: Double? = nil) {
            self.rpo = rpo
            self.rto = rto
        }
    }

    public struct Database: Sendable, Encodable {
        public var database: String
        public var repository: String?
        public var cluster: String?
        public var clusterName: String?
        public var clusterFoundBy: String?
        public var newestBackup: String?
        public var newestBackupTime: Date?
        public var newestBackupAgeSeconds: Double?
        public var newestWal: String?
        public var newestWalAgeSeconds: Double?
        /// Committed work a disaster now would lose, at most; nil when there is no backup.
        public var rpoExposureSeconds: Double?
        public var rpoTargetSeconds: Double
        /// Where the RPO target came from: `override`, `inventory`, `drill`, `default`.
        public var rpoTargetSource: String
        public var lastDrill: String?
        public var lastDrillTime: Date?
        public var lastDrillVerdict: String?
        public var projectedRtoSeconds: Double?
        public var rtoTargetSeconds: Double
        public var rtoTargetSource: String
        public var problems: [String] = []
        /// The RPO alone: measured and inside its target (what the RPO watch alerts on).
        public var rpoWithinTarget: Bool
        /// Every objective inside its target and nothing wrong.
        public var withinTargets: Bool
    }

    public struct Mirror: Sendable, Encodable {
        public var source: String
        public var mirror: String
        public var lastSuccess: Date?
        public var ageSeconds: Double?
        public var rpoTargetSeconds: Double
        public var lastSyncFailed: Bool
        public var problems: [String] = []
        public var withinTargets: Bool
    }

    public var databases: [Database]
    public var mirrors: [Mirror]
    /// Risks that do not put a database outside its targets (e.g. a repository with a single key slot).
    public var warnings: [String]

    /// True when every database and mirror is inside its targets.
    public var withinTargets: Bool {
        databases.allSatisfy(\.withinTargets) && mirrors.allSatisfy(\.withinTargets)
    }

    /// Reads the repositories (``RecoveryPosition/scan(_:secrets:now:)``) and the catalog, then decides.
    /// A catalog that cannot be read is an error, never "no drill".
    public static func current(_ inventory: Inventory, catalog: Catalog, secrets: SecretResolver, now: Date = Date(),
                               overrides: Overrides = Overrides()) throws -> RecoveryStatus {
        let scan = RecoveryPosition.scan(inventory, secrets: secrets, now: now)
        return decide(inventory, positions: scan.positions, scanProblems: scan.problems, warnings: scan.warnings,
                      drills: try catalog.drills(limit: 500), syncStates: try catalog.gitSyncStates(), now: now,
                      overrides: overrides)
    }

    /// The decision itself, from what was read: no I/O.
    public static func decide(_ inventory: Inventory, positions: [DatabasePosition], scanProblems: [String] = [],
                              warnings: [String] = [], drills: [DrillRecord],
                              syncStates: [(latest: GitSyncRecord, lastSuccess: Date?)], now: Date,
                              overrides: Overrides = Overrides()) -> RecoveryStatus {
        let databases = inventory.names(.databases).map { name in
            database(name, entry: inventory.entry(.databases, name), position: positions.first { $0.database == name },
                     drill: drills.first { $0.databases.split(separator: ",").contains(Substring(name)) },
                     scanProblems: scanProblems, now: now, overrides: overrides)
        }
        var mirrors: [Mirror] = []
        let mirrorRPO = overrides.rpo ?? defaultRPO
        for source in inventory.names(.git) {
            let entry = inventory.entry(.git, source)
            let destinations = (entry?.fields["mirrors"]?.listValue ?? []).compactMap { $0.stringValue?.description }
            for destination in destinations {
                let shown = RemoteURL.display(destination)
                let state = syncStates.first { $0.latest.source == source && $0.latest.destination == shown }
                var row = Mirror(source: source, mirror: shown, lastSuccess: state?.lastSuccess,
                                 ageSeconds: state?.lastSuccess.map { now.timeIntervalSince($0) }, rpoTargetSeconds: mirrorRPO,
                                 lastSyncFailed: state.map { !$0.latest.succeeded } ?? false, withinTargets: true)
                if let age = row.ageSeconds {
                    if age > mirrorRPO {
                        row.problems.append("last synced \(Formatted.duration(age)) ago, over the RPO target of "
                            + Formatted.duration(mirrorRPO))
                    }
                } else {
                    row.problems.append("never synced successfully")
                }
                if row.lastSyncFailed { row.problems.append("the last sync failed: \(state?.latest.error ?? "")") }
                row.withinTargets = row.problems.isEmpty
                mirrors.append(row)
            }
        }
        return RecoveryStatus(databases: databases, mirrors: mirrors, warnings: warnings)
    }

    static func database(_ name: String, entry: InventoryEntry?, position: DatabasePosition?, drill: DrillRecord?,
                         scanProblems: [String], now: Date, overrides: Overrides) -> Database {
        var problems = scanProblems + (position?.problems ?? [])
        var report: DrillReport?
        if let drill {
            do {
                report = try drill.decodedReport()
            } catch {
                problems.append("the report of the last drill (run \(drill.runId)) cannot be read: \(error)")
            }
        }
        let inventoryRPO = entry?.fields["rpo"]?.durationValue.map { Double($0.milliseconds) / 1000 }
        let (rpoTarget, rpoSource): (Double, String) =
            if let value = overrides.rpo { (value, "override") }
            else if let inventoryRPO { (inventoryRPO, "inventory") }
            else if let value = report?.rpo.targetSeconds { (value, "drill") }
            else { (defaultRPO, "default") }
        let (rtoTarget, rtoSource): (Double, String) =
            if let value = overrides.rto { (value, "override") }
            else if let value = report?.rto.targetSeconds { (value, "drill") }
            else { (defaultRTO, "default") }
        var status = Database(database: name, rpoTargetSeconds: rpoTarget, rpoTargetSource: rpoSource,
                              rtoTargetSeconds: rtoTarget, rtoTargetSource: rtoSource, rpoWithinTarget: false,
                              withinTargets: false)
        status.rpoExposureSeconds = position?.exposure
        if let position, let backup = position.newestBackup {
            status.repository = position.repository
            status.cluster = position.cluster?.systemIdentifier
            status.clusterName = position.cluster?.displayName
            status.clusterFoundBy = position.clusterEvidence?.rawValue
            status.newestBackup = backup.id
            status.newestBackupTime = backup.stopTime
            status.newestBackupAgeSeconds = now.timeIntervalSince(backup.stopTime)
            status.newestWal = position.newestWAL
            status.newestWalAgeSeconds = position.newestWALTime.map { now.timeIntervalSince($0) }
        } else if position?.exposure == nil {
            problems.append("no backup of \(name) in any inventory repository")
        }
        if let exposure = status.rpoExposureSeconds {
            status.rpoWithinTarget = exposure <= rpoTarget
            if !status.rpoWithinTarget {
                problems.append("RPO exposure \(Formatted.duration(exposure)) exceeds the target of \(Formatted.duration(rpoTarget))")
            }
        }
        if let drill, let report {
            status.lastDrill = drill.runId
            status.lastDrillTime = drill.startedAt
            status.lastDrillVerdict = drill.verdict
            status.projectedRtoSeconds = report.projection?.projectedRTOSeconds ?? report.rto.measuredSeconds
            if let projected = status.projectedRtoSeconds, projected > rtoTarget {
                problems.append("projected RTO \(Formatted.duration(projected)) exceeds the target of \(Formatted.duration(rtoTarget))")
            }
            if !report.passed { problems.append("the last drill failed: \(report.reasons.first ?? "see its report")") }
        }
        status.problems = problems
        status.withinTargets = problems.isEmpty
        return status
    }
}
