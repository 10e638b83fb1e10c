import Engine
import Foundation
import Plans
import TestSupport
import Testing

/// `lifeboat status`, the RPO watch and the metrics share one decision; these pin its rules.
@Suite("Recovery status: targets and verdicts")
struct RecoveryStatusTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func inventory(_ yaml: String) throws -> (Inventory, TemporaryDirectory) {
        let folder = try TemporaryDirectory()
        try folder.write("lifeboat.yaml", yaml)
        let loaded = StepRegistry.standard.loader.loadInventory(folder.file("lifeboat.yaml"))
        return (try #require(loaded.inventory, "\(loaded.diagnostics)"), folder)
    }

    /// A passing drill of `orders` whose plan holds it to RPO 30m and RTO 2h, measured RTO 65s.
    func drill() -> DrillRecord {
        let plan = Plan(name: "monthly", kind: .drill, file: "plans/monthly.yaml", digest: String(repeating: "ab", count: 32),
                        targets: Targets(rpo: PlanDuration(seconds: 1800), rto: PlanDuration(seconds: 7200)), steps: [])
        let run = RunRecord(id: "20270115T090000Z-0001", plan: "monthly", planFile: "plans/monthly.yaml", planDigest: "",
                            kind: "drill", trigger: .cli, osUser: "ops", host: "db1", pid: 1, startedAt: start,
                            endedAt: start.addingTimeInterval(120), status: .succeeded, error: nil, logFile: "")
        let session = RunSession(runId: run.id, startedAt: start)
        session.record(RestoreEvidence(
            step: "restore", database: "orders", repository: "primary", backupId: "20270115T020000Z",
            backupTime: start.addingTimeInterval(-3600), backupLogicalBytes: 1 << 20, backupStoredBytes: 1 << 18,
            target: "drill start", archiveCutoff: start, restoredBytes: 1 << 20, restoredFiles: 9, restoreSeconds: 40,
            startupSeconds: 2, replaySeconds: 18, timeline: "1", replayedUpTo: "0/9000000", lastReplayedCommit: nil,
            restoredHeartbeat: start.addingTimeInterval(-45), sourceHeartbeat: nil, sourceBytes: nil,
            growthBytesPerDay: nil, readyAt: start.addingTimeInterval(60), scratchFolder: "/tmp/x"))
        session.record(CheckEvidence(step: "check", name: "rows", sql: "SELECT 1", expectation: "at_least 1", actual: "1",
                                     passed: true, detail: nil, seconds: 5, finishedAt: start.addingTimeInterval(65)))
        return DrillRecord(DrillReport.build(plan: plan, run: run, steps: [], session: session))
    }

    @Test("RPO target: the override, else the inventory's rpo, else the last drill's plan, else 1h")
    func rpoTargets() throws {
        let (inventory, folder) = try inventory("""
            databases:
              orders: { host: /tmp, dbname: orders, rpo: 1m }
              billing: { host: /tmp, dbname: billing }
              ledger: { host: /tmp, dbname: ledger }
            """)
        defer { folder.remove() }
        var ledgerDrill = drill()
        ledgerDrill.databases = "billing"
        let positions = [DatabasePosition(database: "orders", exposure: 90), DatabasePosition(database: "billing", exposure: 90),
                         DatabasePosition(database: "ledger", exposure: 90)]
        let status = RecoveryStatus.decide(inventory, positions: positions, drills: [ledgerDrill], syncStates: [], now: start)
        let byName = Dictionary(uniqueKeysWithValues: status.databases.map { ($0.database, $0) })
        // The inventory's rpo is what the RPO watch alerts on: status holds the database to it too.
        #expect(byName["orders"]?.rpoTargetSeconds == 60 && byName["orders"]?.rpoTargetSource == "inventory")
        #expect(byName["orders"]?.rpoWithinTarget == false && byName["orders"]?.withinTargets == false)
        #expect(byName["orders"]?.problems.contains("RPO exposure 1m30s exceeds the target of 1m") == true)
        #expect(byName["billing"]?.rpoTargetSeconds == 1800 && byName["billing"]?.rpoTargetSource == "drill")
        #expect(byName["billing"]?.rtoTargetSeconds == 7200 && byName["billing"]?.rtoTargetSource == "drill")
        #expect(byName["billing"]?.rpoWithinTarget == true)
        #expect(byName["ledger"]?.rpoTargetSeconds == RecoveryStatus.defaultRPO && byName["ledger"]?.rpoTargetSource == "default")
        #expect(byName["ledger"]?.rtoTargetSeconds == RecoveryStatus.defaultRTO)
        #expect(status.withinTargets == false)

        let overridden = RecoveryStatus.decide(inventory, positions: positions, drills: [ledgerDrill], syncStates: [], now: start,
                                               overrides: .init(rpo: 30, rto: 10))
        #expect(overridden.databases.allSatisfy { $0.rpoTargetSeconds == 30 && $0.rpoTargetSource == "override" && !$0.rpoWithinTarget })
        #expect(overridden.databases.first { $0.database == "billing" }?.problems
            .contains { $0.hasPrefix("projected RTO 1m5s exceeds the target of 10s") } == true)
    }

    @Test("no backup is outside the targets; an unreadable drill report is a problem, never 'no drill'")
    func failClosed() throws {
        let (inventory, folder) = try inventory("""
            databases:
              orders: { host: /tmp, dbname: orders }
            """)
        defer { folder.remove() }
        var broken = drill()
        broken.report = "{ not json"
        let status = RecoveryStatus.decide(inventory, positions: [DatabasePosition(database: "orders")], drills: [broken],
                                           syncStates: [], now: start)
        let orders = try #require(status.databases.first)
        #expect(orders.rpoWithinTarget == false && orders.withinTargets == false)
        #expect(orders.problems.contains("no backup of orders in any inventory repository"))
        #expect(orders.problems.contains { $0.hasPrefix("the report of the last drill (run 20270115T090000Z-0001) cannot be read") })

        // A repository the scan could not open puts every database outside its targets.
        let unread = RecoveryStatus.decide(inventory, positions: [DatabasePosition(database: "orders", exposure: 5)],
                                           scanProblems: ["repository primary: cannot read config"], drills: [],
                                           syncStates: [], now: start)
        #expect(unread.databases.first?.rpoWithinTarget == true && unread.databases.first?.withinTargets == false)
    }
}
