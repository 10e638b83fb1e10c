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
            Targets: --rpo/--rto, else the database's rpo in the inventory, else those of the plan of the database's \
            last drill, else 1h and 4h (the daemon's RPO watch and metrics use the same rule). \
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

    func run() throws {
        guard let names = try InventoryNames.load(explicit: inventory) else {
            throw LifeboatError(.invalidInput, "no inventory found",
                                hint: "give --inventory FILE, set LIFEBOAT_INVENTORY, or create ./lifeboat.yaml")
        }
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let secrets = SecretResolver(environment: ProcessInfo.processInfo.environment, redactor: Redactor())
        func seconds(_ text: String?) -> Double? { text.flatMap(PlanDuration.init(parsing:)).map(\.seconds) }
        let status = try RecoveryStatus.current(names.inventory, catalog: catalog, secrets: secrets,
                                                overrides: .init(rpo: seconds(rpo), rto: seconds(rto)))
        if json {
            try Console.json(status)
        } else if status.databases.isEmpty && status.mirrors.isEmpty {
            Console.out("the inventory \(names.inventory.file ?? "") defines no databases and no git sources")
        } else {
            Console.out(Console.table(
                ["DATABASE", "NEWEST BACKUP", "RPO EXPOSURE", "RPO TARGET", "LAST DRILL", "PROJECTED RTO", "RTO TARGET", "STATE"],
                status.databases.map { row in
                    [row.database,
                     row.newestBackup.map { "\($0) (\(Formatted.duration(row.newestBackupAgeSeconds ?? 0)) ago)" } ?? "none",
                     row.rpoExposureSeconds.map { Formatted.duration($0) } ?? "-", Formatted.duration(row.rpoTargetSeconds),
                     row.lastDrillVerdict.map { "\($0.uppercased()) \(Formatted.timestamp(row.lastDrillTime))" }
                        ?? "never (RTO unproven)",
                     row.projectedRtoSeconds.map { Formatted.duration($0) } ?? "-", Formatted.duration(row.rtoTargetSeconds),
                     row.withinTargets ? "ok" : "OUTSIDE TARGETS"]
                }))
            if !status.mirrors.isEmpty {
                Console.out("")
                Console.out(Console.table(
                    ["GIT SOURCE", "MIRROR", "LAST SUCCESS", "AGE", "RPO TARGET", "STATE"],
                    status.mirrors.map { row in
                        [row.source, row.mirror, row.lastSuccess.map { Formatted.timestamp($0) } ?? "never",
                         row.ageSeconds.map { Formatted.duration($0) } ?? "-", Formatted.duration(row.rpoTargetSeconds),
                         row.withinTargets ? "ok" : "OUTSIDE TARGETS"]
                    }))
            }
            for row in status.databases { for problem in row.problems { Console.warning("\(row.database): \(problem)") } }
            for row in status.mirrors { for problem in row.problems { Console.warning("\(row.source) → \(row.mirror): \(problem)") } }
        }
        if !json {
            for warning in status.warnings { Console.warning(warning) }
            if !status.warnings.isEmpty { Console.hint(BackupRepository.singleKeyHint) }
        }
        if !status.withinTargets { throw ExitCode(ExitCodes.targetBreached) }
    }
}
