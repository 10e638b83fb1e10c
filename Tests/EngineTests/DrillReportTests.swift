import Engine
import Foundation
import Plans
import Testing

@Suite("Drill reports: objectives, projection, rendering")
struct DrillReportTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func plan(rpo: Double? = 3600, rto: Double? = 4 * 3600) -> Plan {
        Plan(name: "monthly", kind: .drill, file: "plans/monthly.yaml", digest: String(repeating: "ab", count: 32),
             targets: Targets(rpo: rpo.map { PlanDuration(seconds: $0) }, rto: rto.map { PlanDuration(seconds: $0) }),
             steps: [])
    }

    func run(_ status: RunStatus = .succeeded, error: String? = nil) -> RunRecord {
        RunRecord(id: "20270115T090000Z-0001", plan: "monthly", planFile: "plans/monthly.yaml", planDigest: "",
                  kind: "drill", trigger: .cli, osUser: "ops", host: "db1", pid: 1, startedAt: start,
                  endedAt: start.addingTimeInterval(120), status: status, error: error, logFile: "")
    }

    func restore(heartbeat: Date? = nil, lastCommit: Date? = nil, sourceBytes: Int64? = nil, growth: Double? = nil)
        -> RestoreEvidence {
        RestoreEvidence(step: "restore", database: "orders", repository: "primary", backupId: "20270115T020000Z",
                        backupTime: start.addingTimeInterval(-7 * 3600), backupLogicalBytes: 1 << 30,
                        backupStoredBytes: 1 << 28, target: "drill start", archiveCutoff: start,
                        restoredBytes: 1 << 30, restoredFiles: 900, restoreSeconds: 40, startupSeconds: 2,
                        replaySeconds: 18, timeline: "2", replayedUpTo: "0/9000000", lastReplayedCommit: lastCommit,
                        restoredHeartbeat: heartbeat, sourceHeartbeat: nil, sourceBytes: sourceBytes,
                        growthBytesPerDay: growth, readyAt: start.addingTimeInterval(60),
                        scratchFolder: "/tmp/lifeboat-scratch-x")
    }

    func check(_ name: String, passed: Bool?, at seconds: Double = 65) -> CheckEvidence {
        CheckEvidence(step: "check", name: name, sql: "SELECT count(*) FROM t WHERE a < 'x'", expectation: "at_least 1",
                      actual: passed == false ? "0" : "10", passed: passed, detail: nil, seconds: 5,
                      finishedAt: start.addingTimeInterval(seconds))
    }

    func session(_ restores: [RestoreEvidence], _ checks: [CheckEvidence]) -> RunSession {
        let session = RunSession(runId: "r", startedAt: start)
        restores.forEach(session.record)
        checks.forEach(session.record)
        return session
    }

    @Test("RPO from the heartbeat, RTO until the last check; both inside their targets: pass")
    func passes() {
        let report = DrillReport.build(plan: plan(), run: run(), steps: [],
                                       session: session([restore(heartbeat: start.addingTimeInterval(-45))], [check("rows", passed: true)]))
        #expect(report.verdict == .pass)
        #expect(report.rpo.measuredSeconds == 45)
        #expect(report.rpo.method.hasPrefix("heartbeat"))
        #expect(report.rto.measuredSeconds == 65)
        #expect(report.phases.map(\.name) == ["fetch, decrypt, decompress, write", "server start-up", "WAL replay until writable", "checks"])
        #expect(report.phases[0].throughput == Double(1 << 30) / 40)
        #expect(report.evidenceDigest.count == 64)
        #expect(report.evidenceDigest == report.computeDigest())
    }

    @Test("without a heartbeat the last replayed commit bounds the RPO; with neither the target is not proven")
    func rpoFallbacks() {
        let commit = DrillReport.build(plan: plan(), run: run(), steps: [],
                                       session: session([restore(lastCommit: start.addingTimeInterval(-7200))], [check("rows", passed: true)]))
        #expect(commit.rpo.measuredSeconds == 7200)
        #expect(commit.rpo.method.hasPrefix("last replayed commit"))
        #expect(commit.verdict == .fail)
        #expect(commit.reasons.contains("RPO 2h exceeds the target of 1h"))

        let none = DrillReport.build(plan: plan(), run: run(), steps: [], session: session([restore()], [check("rows", passed: true)]))
        #expect(none.rpo.measuredSeconds == nil)
        #expect(none.reasons.contains("RPO could not be measured, so the target of 1h is not proven"))
    }

    @Test("a failed check fails the drill and leaves the RTO unmeasured; an undecided one only warns")
    func failedCheck() {
        let report = DrillReport.build(plan: plan(), run: run(.failed, error: "step 'check' failed"), steps: [],
                                       session: session([restore(heartbeat: start)], [check("rows", passed: false),
                                                                                        check("source", passed: nil)]))
        #expect(report.verdict == .fail)
        #expect(report.rto.measuredSeconds == nil)
        #expect(report.reasons.contains { $0.hasPrefix("check 'rows' failed: expected at_least 1, got 0") })
        #expect(report.warnings.contains { $0.hasPrefix("check 'source' could not be decided") })
    }

    @Test("the projection scales the restore to the source's size and warns before growth reaches the target")
    func projection() throws {
        // 10 GiB now at 1 GiB per 40 s: 400 s of restore instead of 40.
        let big = DrillReport.build(plan: plan(rto: 300), run: run(), steps: [],
                                    session: session([restore(heartbeat: start, sourceBytes: 10 << 30)], [check("rows", passed: true)]))
        let projected = try #require(big.projection)
        #expect(projected.projectedRTOSeconds == 65 - 40 + 400)
        #expect(projected.warning?.contains("over the RTO target of 5m") == true)
        #expect(big.verdict == .pass)  // measured RTO 65 s is inside 5 m; the projection warns

        // 1 GiB a day at 1 GiB per 40 s adds 40 s a day: (3600 - 65) / 40 ≈ 88 days.
        let growing = DrillReport.build(plan: plan(rto: 3600), run: run(), steps: [],
                                        session: session([restore(heartbeat: start, growth: Double(1 << 30))], [check("rows", passed: true)]))
        let days = try #require(growing.projection?.daysUntilTarget)
        #expect(abs(days - (3600 - 65) / 40) < 0.001)
        #expect(growing.warnings.contains { $0.contains("in about 88 days") })
    }

    @Test("Markdown has every section; HTML escapes what it shows; JSON reads back")
    func rendering() throws {
        let report = DrillReport.build(plan: plan(), run: run(), steps: [],
                                       session: session([restore(heartbeat: start)], [check("a < b", passed: true)]))
        for section in ["# Drill report: monthly — PASS", "## Objectives", "## RTO breakdown", "## Restores", "## Checks", "## Timeline"] {
            #expect(report.markdown.contains(section))
        }
        #expect(report.html.contains("a &lt; b"))
        #expect(!report.html.contains("a < b"))
        let decoded = try DrillReport.decoder.decode(DrillReport.self, from: Data(report.json.utf8))
        #expect(decoded.evidenceDigest == report.evidenceDigest)
        #expect(decoded.computeDigest() == report.evidenceDigest)
    }
}
