import Foundation
import GRDB
import Logging
import Plans
import Prometheus

/// The daemon's Prometheus metrics, refreshed about once a minute from the catalog and the repositories.
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let catalog: Catalog
    let plansFolder: String
    let environment: [String: String]

    public init(catalog: Catalog, plansFolder: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.catalog = catalog
        self.plansFolder = plansFolder
        self.environment = environment
    }

    /// The metrics in Prometheus' text format.
    public var text: String { registry.emitToString() }

    public func refresh(now: Date = Date()) {
        var latest: [String: RunRecord] = [:]
        for run in (try? catalog.runs(limit: 1000)) ?? [] where latest[run.plan] == nil { latest[run.plan] = run }
        for (plan, run) in latest {
            let labels = [("plan", plan)]
            gauge("lifeboat_plan_last_run_timestamp_seconds", labels, "Start of the plan's last run (Unix time)")
                .set(to: run.startedAt.timeIntervalSince1970)
            gauge("lifeboat_plan_last_run_success", labels, "1 when the plan's last run succeeded, 0 otherwise")
                .set(to: run.status == .succeeded ? 1.0 : 0.0)
            gauge("lifeboat_plan_last_run_duration_seconds", labels, "Duration of the plan's last run")
                .set(to: run.duration())
        }
        if let inventory = RPOWatch.inventory(plansFolder: plansFolder, environment: environment) {
            let secrets = SecretResolver(environment: environment, redactor: Redactor())
            // The same decision `lifeboat status` and the RPO watch make; a catalog that cannot be read leaves the
            // database gauges as they were.
            for database in (try? RecoveryStatus.current(inventory, catalog: catalog, secrets: secrets, now: now).databases) ?? [] {
                let labels = [("database", database.database)]
                if let age = database.newestBackupAgeSeconds {
                    gauge("lifeboat_database_backup_age_seconds", labels, "Age of the newest backup").set(to: age)
                }
                if let age = database.newestWalAgeSeconds {
                    gauge("lifeboat_database_wal_age_seconds", labels, "Age of the newest archived WAL file").set(to: age)
                }
                if let exposure = database.rpoExposureSeconds {
                    gauge("lifeboat_database_rpo_exposure_seconds", labels, "Committed work a disaster now would lose, at most")
                        .set(to: exposure)
                }
                gauge("lifeboat_database_rpo_target_seconds", labels, "The RPO target the database is held to")
                    .set(to: database.rpoTargetSeconds)
                gauge("lifeboat_database_within_targets", labels, "1 when lifeboat status finds the database inside its targets")
                    .set(to: database.withinTargets ? 1.0 : 0.0)
            }
        }
        var drilled = Set<String>()
        for drill in (try? catalog.drills(limit: 500)) ?? [] {
            for database in drill.databases.split(separator: ",").map(String.init) where drilled.insert(database).inserted {
                let labels = [("database", database)]
                gauge("lifeboat_drill_passed", labels, "1 when the database's last drill passed").set(to: drill.verdict == "pass" ? 1.0 : 0.0)
                gauge("lifeboat_drill_timestamp_seconds", labels, "Start of the database's last drill (Unix time)")
                    .set(to: drill.startedAt.timeIntervalSince1970)
                if let rpo = drill.rpoSeconds { gauge("lifeboat_drill_rpo_seconds", labels, "RPO measured by the last drill").set(to: rpo) }
                if let rto = drill.rtoSeconds { gauge("lifeboat_drill_rto_seconds", labels, "RTO measured by the last drill").set(to: rto) }
                if let projected = drill.projectedRTOSeconds {
                    gauge("lifeboat_drill_projected_rto_seconds", labels, "RTO projected at the current size").set(to: projected)
                }
            }
        }
        for state in (try? catalog.gitSyncStates()) ?? [] {
            guard let success = state.lastSuccess else { continue }
            gauge("lifeboat_mirror_sync_age_seconds", [("source", state.latest.source), ("mirror", state.latest.destination)],
                  "Time since the mirror's last successful sync").set(to: now.timeIntervalSince(success))
        }
        let failures = ((try? catalog.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM deliveries WHERE delivered = 0")
        }) ?? nil) ?? 0
        gauge("lifeboat_notification_failures", [], "Notifications that could not be delivered (all time)")
            .set(to: Double(failures))
    }

    /// `name` without the `lifeboat_` prefix, ending in its unit (`_seconds`) where it has one.
    private func gauge(_ name: String, _ labels: [(String, String)], _ help: String) -> Gauge {
        let bare = name.hasPrefix("lifeboat_") ? String(name.dropFirst("lifeboat_".count)) : name
        let unit = bare.hasSuffix("_seconds") ? "seconds" : ""
        let metric = unit.isEmpty ? bare : String(bare.dropLast("_seconds".count))
        return registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "lifeboat", metricName: metric, unitName: unit,
                                                                   helpText: help),
                                  labels: labels)
    }
}
