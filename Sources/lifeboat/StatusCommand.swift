import ArgumentParser
import Engine
import Foundation
import Mirrors
import Plans
import Repository
import LifeboatCore

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each inventory database and git mirror now: backups, WAL, last drill, last sync, against the targets.",
        discussion: """
            A database's backups are those of its cluster: found by the running server's system identifier \
            (whatever name the backups were taken under, e.g. before a failover), else by the database's name \
            among the names its cluster's backups carry. \
            RPO exposure = the age of the newest WAL file its cluster archived into a repository holding its \
            backups (or of its newest backup when its backups carry their own WAL). Projected RTO comes from the last drill. \
            Targets: --rpo/--rto, else those of the plan of the database's last drill, else 1h and 4h. \
            Mirrors: the age of the last successful sync against the RPO target (--rpo, else 1h). \
            Exit 0 when everything is inside its targets, 5 when anything is not (no backup at all, or a mirror never \
            synced, counts as outside).
            """
    )

    @Option(help: "The inventory (default: $LIFEBOAT_INVENTORY, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml).")
    var inventory: String?

    @OptionGroup var state: StateOptions

    @Option(help: "RPO target for every database, e.g. 15m.")
    var rpo: String?

    @Option(help: "RTO target for every database, e.g. 4h.")
    var rto: String?

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        for (name, value) in [("--rpo", rpo), ("--rto", rto)] {
            if let value, PlanDuration(parsing: value) == nil { throw ValidationError("\(name): cannot read '\(value)' (e.g. 15m, 1h)") }
        }
    }

    struct DatabaseStatus: Encodable {
        var database: String
        var repository: String?
        var cluster: String?
        var cluster_name: String?
        var cluster_found_by: String?
        var newest_backup: String?
        var newest_backup_time: String?
        var newest_backup_age_seconds: Double?
        var newest_wal: String?
        var newest_wal_age_seconds: Double?
        var rpo_exposure_seconds: Double?
        var rpo_target_seconds: Double
        var last_drill: String?
        var last_drill_time: String?
        var last_drill_verdict: String?
        var projected_rto_seconds: Double?
        var rto_target_seconds: Double
        var problems: [String]
        var within_targets: Bool
    }

    struct MirrorStatus: Encodable {
        var source: String
        var mirror: String
        var last_success: String?
        var age_seconds: Double?
        var rpo_target_seconds: Double
        var last_sync_failed: Bool
        var problems: [String]
        var within_targets: Bool
    }

    struct StatusReport: Encodable {
        var databases: [DatabaseStatus]
        var mirrors: [MirrorStatus]
        /// Risks that do not put a database outside its targets (e.g. a repository with a single key slot).
        var warnings: [String]
    }

    func run() throws {
        guard let names = try InventoryNames.load(explicit: inventory) else {
            throw LifeboatError(.invalidInput, "no inventory found",
                                hint: "give --inventory FILE, set LIFEBOAT_INVENTORY, or create ./lifeboat.yaml")
        }
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let drills = try catalog.drills(limit: 500)
        let secrets = SecretResolver(environment: ProcessInfo.processInfo.environment, redactor: Redactor())
        let now = Date()

        let (positions, openProblems, warnings) = RecoveryPosition.scan(names.inventory, secrets: secrets, now: now)

        var rows: [DatabaseStatus] = []
        for database in names.inventory.names(.databases) {
            let drill = drills.first { $0.databases.split(separator: ",").contains(Substring(database)) }
            let report = try? drill?.decodedReport()
            let rpoTarget = rpo.flatMap(PlanDuration.init(parsing:)).map { Double($0.milliseconds) / 1000 }
                ?? report?.rpo.targetSeconds ?? 3600
            let rtoTarget = rto.flatMap(PlanDuration.init(parsing:)).map { Double($0.milliseconds) / 1000 }
                ?? report?.rto.targetSeconds ?? 4 * 3600
            var status = DatabaseStatus(database: database, rpo_target_seconds: rpoTarget, rto_target_seconds: rtoTarget,
                                        problems: openProblems, within_targets: true)
            status.problems += positions.first { $0.database == database }?.problems ?? []
            if let position = positions.first(where: { $0.database == database }), let backup = position.newestBackup {
                status.repository = position.repository
                status.cluster = position.cluster?.systemIdentifier
                status.cluster_name = position.cluster?.displayName
                status.cluster_found_by = position.clusterEvidence?.rawValue
                status.newest_backup = backup.id
                status.newest_backup_time = Formatted.timestamp(backup.stopTime)
                status.newest_backup_age_seconds = now.timeIntervalSince(backup.stopTime)
                status.newest_wal = position.newestWAL
                status.newest_wal_age_seconds = position.newestWALTime.map { now.timeIntervalSince($0) }
                status.rpo_exposure_seconds = position.exposure
            } else {
                status.problems.append("no backup of \(database) in any inventory repository")
            }
            if let exposure = status.rpo_exposure_seconds, exposure > rpoTarget {
                status.problems.append("RPO exposure \(Formatted.duration(exposure)) exceeds the target of \(Formatted.duration(rpoTarget))")
            }
            if let drill, let report {
                status.last_drill = drill.runId
                status.last_drill_time = Formatted.timestamp(drill.startedAt)
                status.last_drill_verdict = drill.verdict
                status.projected_rto_seconds = report.projection?.projectedRTOSeconds ?? report.rto.measuredSeconds
                if let projected = status.projected_rto_seconds, projected > rtoTarget {
                    status.problems.append("projected RTO \(Formatted.duration(projected)) exceeds the target of \(Formatted.duration(rtoTarget))")
                }
                if !report.passed { status.problems.append("the last drill failed: \(report.reasons.first ?? "see its report")") }
            }
            status.within_targets = status.problems.isEmpty
            rows.append(status)
        }

        // Mirrors: the age of each mirror's last successful sync against the RPO target.
        let syncStates = try catalog.gitSyncStates()
        let mirrorRPO = rpo.flatMap(PlanDuration.init(parsing:)).map { Double($0.milliseconds) / 1000 } ?? 3600
        var mirrors: [MirrorStatus] = []
        for source in names.inventory.names(.git) {
            let entry = names.inventory.entry(.git, source)
            let destinations = (entry?.fields["mirrors"]?.listValue ?? []).compactMap { $0.stringValue?.description }
            for destination in destinations {
                let shown = RemoteURL.display(destination)
                let state = syncStates.first { $0.latest.source == source && $0.latest.destination == shown }
                var row = MirrorStatus(source: source, mirror: shown, last_success: state?.lastSuccess.map { Formatted.timestamp($0) },
                                       age_seconds: state?.lastSuccess.map { now.timeIntervalSince($0) },
                                       rpo_target_seconds: mirrorRPO, last_sync_failed: state.map { !$0.latest.succeeded } ?? false,
                                       problems: [], within_targets: true)
                if let age = row.age_seconds {
                    if age > mirrorRPO {
                        row.problems.append("last synced \(Formatted.duration(age)) ago, over the RPO target of \(Formatted.duration(mirrorRPO))")
                    }
                } else {
                    row.problems.append("never synced successfully")
                }
                if row.last_sync_failed { row.problems.append("the last sync failed: \(state?.latest.error ?? "")") }
                row.within_targets = row.problems.isEmpty
                mirrors.append(row)
            }
        }

        if json {
            try Console.json(StatusReport(databases: rows, mirrors: mirrors, warnings: warnings))
        } else if rows.isEmpty && mirrors.isEmpty {
            Console.out("the inventory \(names.inventory.file ?? "") defines no databases and no git sources")
        } else {
            Console.out(Console.table(
                ["DATABASE", "NEWEST BACKUP", "RPO EXPOSURE", "RPO TARGET", "LAST DRILL", "PROJECTED RTO", "RTO TARGET", "STATE"],
                rows.map { row in
                    [row.database,
                     row.newest_backup.map { "\($0) (\(Formatted.duration(row.newest_backup_age_seconds ?? 0)) ago)" } ?? "none",
                     row.rpo_exposure_seconds.map { Formatted.duration($0) } ?? "-", Formatted.duration(row.rpo_target_seconds),
                     row.last_drill_verdict.map { "\($0.uppercased()) \(row.last_drill_time ?? "")" } ?? "never (RTO unproven)",
                     row.projected_rto_seconds.map { Formatted.duration($0) } ?? "-", Formatted.duration(row.rto_target_seconds),
                     row.within_targets ? "ok" : "OUTSIDE TARGETS"]
                }))
            if !mirrors.isEmpty {
                Console.out("")
                Console.out(Console.table(
                    ["GIT SOURCE", "MIRROR", "LAST SUCCESS", "AGE", "RPO TARGET", "STATE"],
                    mirrors.map { row in
                        [row.source, row.mirror, row.last_success ?? "never", row.age_seconds.map { Formatted.duration($0) } ?? "-",
                         Formatted.duration(row.rpo_target_seconds), row.within_targets ? "ok" : "OUTSIDE TARGETS"]
                    }))
            }
            for row in rows { for problem in row.problems { Console.warning("\(row.database): \(problem)") } }
            for row in mirrors { for problem in row.problems { Console.warning("\(row.source) → \(row.mirror): \(problem)") } }
        }
        if !json {
            for warning in warnings { Console.warning(warning) }
            if !warnings.isEmpty { Console.hint(BackupRepository.singleKeyHint) }
        }
        if rows.contains(where: { !$0.within_targets }) || mirrors.contains(where: { !$0.within_targets }) {
            throw ExitCode(ExitCodes.targetBreached)
        }
    }
}
