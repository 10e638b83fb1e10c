import ArgumentParser
import Engine
import Foundation
import Plans
import Repository

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each inventory database's recovery position now: backups, WAL, last drill, against the targets.",
        discussion: """
            RPO exposure = the age of the newest WAL file archived in a repository holding the database's backups \
            (or of its newest backup when its backups carry their own WAL). Projected RTO comes from the last drill. \
            Targets: --rpo/--rto, else those of the plan of the database's last drill, else 1h and 4h. \
            Exit 0 when every database is inside its targets, 5 when any is not (no backup at all counts as outside).
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

    func run() throws {
        guard let names = try InventoryNames.load(explicit: inventory) else {
            throw LifeboatError(.invalidInput, "no inventory found",
                                hint: "give --inventory FILE, set LIFEBOAT_INVENTORY, or create ./lifeboat.yaml")
        }
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let drills = try catalog.drills(limit: 500)
        let secrets = SecretResolver(environment: ProcessInfo.processInfo.environment, redactor: Redactor())
        let now = Date()

        // Every repository once: its backups by source, and its newest archived WAL.
        var repositories: [(name: String, manifests: [BackupManifest], newestWAL: (String, Date)?)] = []
        var openProblems: [String] = []
        for name in names.inventory.names(.repositories) {
            guard let entry = names.inventory.entry(.repositories, name) else { continue }
            do {
                let repository = try RepositoryAccess.open(entry, secrets: secrets)
                let manifests = try LifeboatError.wrapping { () throws(RepositoryError) in try repository.manifests() }
                var newest: (String, Date)?
                for (_, files) in repository.walFiles() {
                    for file in files.suffix(4) {
                        if let time = repository.walArchiveTime(name: file), time > (newest?.1 ?? .distantPast) {
                            newest = (file, time)
                        }
                    }
                }
                repositories.append((name, manifests, newest))
            } catch {
                openProblems.append("repository \(name): \(error)")
            }
        }

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
            let holding = repositories.compactMap { repository -> (String, BackupManifest, (String, Date)?)? in
                guard let newest = repository.manifests.last(where: { $0.source == database }) else { return nil }
                return (repository.name, newest, repository.newestWAL)
            }.max { $0.1.stopTime < $1.1.stopTime }
            if let (repository, backup, wal) = holding {
                status.repository = repository
                status.newest_backup = backup.id
                status.newest_backup_time = Console.time(backup.stopTime)
                status.newest_backup_age_seconds = now.timeIntervalSince(backup.stopTime)
                if let wal, !backup.walIncluded {
                    status.newest_wal = wal.0
                    status.newest_wal_age_seconds = now.timeIntervalSince(wal.1)
                    status.rpo_exposure_seconds = max(0, now.timeIntervalSince(max(wal.1, backup.stopTime)))
                } else {
                    status.rpo_exposure_seconds = status.newest_backup_age_seconds
                }
            } else {
                status.problems.append("no backup of \(database) in any inventory repository")
            }
            if let exposure = status.rpo_exposure_seconds, exposure > rpoTarget {
                status.problems.append("RPO exposure \(DrillReport.duration(exposure)) exceeds the target of \(DrillReport.duration(rpoTarget))")
            }
            if let drill, let report {
                status.last_drill = drill.runId
                status.last_drill_time = Console.time(drill.startedAt)
                status.last_drill_verdict = drill.verdict
                status.projected_rto_seconds = report.projection?.projectedRTOSeconds ?? report.rto.measuredSeconds
                if let projected = status.projected_rto_seconds, projected > rtoTarget {
                    status.problems.append("projected RTO \(DrillReport.duration(projected)) exceeds the target of \(DrillReport.duration(rtoTarget))")
                }
                if !report.passed { status.problems.append("the last drill failed: \(report.reasons.first ?? "see its report")") }
            }
            status.within_targets = status.problems.isEmpty
            rows.append(status)
        }

        if json {
            try Console.json(rows)
        } else if rows.isEmpty {
            Console.out("the inventory \(names.inventory.file ?? "") defines no databases")
        } else {
            Console.out(Console.table(
                ["DATABASE", "NEWEST BACKUP", "RPO EXPOSURE", "RPO TARGET", "LAST DRILL", "PROJECTED RTO", "RTO TARGET", "STATE"],
                rows.map { row in
                    [row.database,
                     row.newest_backup.map { "\($0) (\(DrillReport.duration(row.newest_backup_age_seconds ?? 0)) ago)" } ?? "none",
                     row.rpo_exposure_seconds.map(DrillReport.duration) ?? "-", DrillReport.duration(row.rpo_target_seconds),
                     row.last_drill_verdict.map { "\($0.uppercased()) \(row.last_drill_time ?? "")" } ?? "never (RTO unproven)",
                     row.projected_rto_seconds.map(DrillReport.duration) ?? "-", DrillReport.duration(row.rto_target_seconds),
                     row.within_targets ? "ok" : "OUTSIDE TARGETS"]
                }))
            for row in rows { for problem in row.problems { Console.warning("\(row.database): \(problem)") } }
        }
        if rows.contains(where: { !$0.within_targets }) { throw ExitCode(ExitCodes.targetBreached) }
    }
}
