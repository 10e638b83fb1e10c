import Foundation
import Postgres
import Repository
import TestSupport
import Testing

/// A source archiving into a repository, an inventory naming both, and plans for heartbeats, backups and drills.
struct DrillSetup {
    let setup: ArchivingSetup
    let source: PostgresCluster
    let inventory: String
    let scratchParent: String

    init(_ setup: ArchivingSetup, source: PostgresCluster) throws {
        self.setup = setup
        self.source = source
        scratchParent = setup.bench.folder.file("scratch")
        try FileManager.default.createDirectory(atPath: scratchParent, withIntermediateDirectories: true)
        inventory = try setup.bench.folder.write("inventory.yaml", """
            databases:
              shop: { host: \(source.socketDirectory), port: \(source.port), user: postgres, dbname: postgres }
            repositories:
              primary: { location: \(setup.repo), key_file: \(setup.keyFile) }
            """)
        try setup.bench.plan("backup.yaml", """
            plan: nightly
            kind: backup
            inventory: inventory.yaml
            steps:
              - { id: heartbeat, uses: postgres.heartbeat, with: { database: shop } }
              - { id: backup, uses: postgres.backup, needs: heartbeat, with: { database: shop, repository: primary } }
            """)
        try setup.bench.plan("heartbeat.yaml", """
            plan: heartbeat
            kind: backup
            inventory: inventory.yaml
            steps:
              - { id: beat, uses: postgres.heartbeat, with: { database: shop } }
            """)
    }

    /// A drill plan with these checks (YAML list items) and targets.
    @discardableResult
    func drillPlan(_ name: String, checks: String, targets: String = "{ rpo: 1h, rto: 4h }") throws -> String {
        try setup.bench.plan(name + ".yaml", """
            plan: \(name)
            kind: drill
            inventory: inventory.yaml
            targets: \(targets)
            steps:
              - id: restore
                uses: postgres.restore
                with: { database: shop, repository: primary, directory: \(scratchParent) }
              - id: check
                uses: postgres.check
                needs: restore
                with:
                  amcheck: true
                  checks:
            \(checks)
            """)
    }

    func lifeboat(_ arguments: [String]) throws -> ProcessResult {
        try setup.bench.run(arguments)
    }

    func drill(_ name: String, _ extra: [String] = []) throws -> (result: ProcessResult, report: [String: Any]) {
        let result = try lifeboat(["run", setup.bench.folder.file(name + ".yaml"), "--report-dir",
                                   setup.bench.folder.file("reports")] + extra)
        let listed = try lifeboat(["drills", "list", "--json", "--limit", "1"])
        let newest = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.first
        let id = newest?["run_id"] as? String ?? "none"
        let shown = try lifeboat(["drills", "show", id, "--format", "json"])
        let report = (try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any]) ?? [:]
        return (result, report)
    }

    /// A table of `rows` orders on the source, backed up by the nightly plan, its WAL archived.
    func backedUpOrders(_ rows: Int) async throws {
        let db = try source.connect()
        try db.query("CREATE TABLE orders AS SELECT g AS id FROM generate_series(1, \(rows)) g")
        #expect(try lifeboat(["run", setup.bench.folder.file("backup.yaml")]).status == 0)
        try await waitForArchive(db)
    }

    /// Scratch folders left below the drill's scratch parent.
    var scratchFolders: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: scratchParent)) ?? []).filter { $0.hasPrefix("lifeboat-scratch-") }
    }
}

func date(_ value: Any?) -> Date? {
    guard let text = value as? String else { return nil }
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.date(from: text)
}

@Suite("Drills: restore into a scratch server, checks, measured RPO and RTO, reports, status", .serialized)
struct DrillTests {
    @Test("a drill passes; its RPO is the span archiving was stopped for; report, drills and status agree")
    func passingDrill() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let drill = try DrillSetup(setup, source: source)
            let db = try source.connect()
            try db.query("CREATE TABLE orders AS SELECT g AS id, 'order ' || g AS note FROM generate_series(1, 5000) g")
            try db.query("ALTER TABLE orders ADD PRIMARY KEY (id)")
            let backup = try drill.lifeboat(["run", setup.bench.folder.file("backup.yaml")])
            #expect(backup.status == 0, "\(backup.stderr)")

            // The last heartbeat that reaches the archive; then archiving stops while heartbeats go on.
            #expect(try drill.lifeboat(["run", setup.bench.folder.file("heartbeat.yaml")]).status == 0)
            try await waitForArchive(db)
            let lastArchived = try #require(Double(try db.query("SELECT extract(epoch FROM beat)::text FROM lifeboat_heartbeat").scalar ?? ""))
            try db.query("ALTER SYSTEM SET archive_command = '/bin/false'")
            try db.query("SELECT pg_reload_conf()")
            for _ in 0..<6 {
                try await Task.sleep(for: .seconds(1))
                #expect(try drill.lifeboat(["run", setup.bench.folder.file("heartbeat.yaml")]).status == 0)
            }
            try db.query("INSERT INTO orders VALUES (5001, 'lost in the disaster')")
            _ = try db.query("SELECT pg_switch_wal()")

            try drill.drillPlan("drill", checks: """
                        - { name: orders, sql: "SELECT count(*) FROM orders", equals: "5000" }
                        - { name: enough, sql: "SELECT count(*) FROM orders", at_least: 1000 }
                        - { name: oldest match, sql: "SELECT id, note FROM orders WHERE id <= 50 ORDER BY id", matches_source: true }
                """)
            let (result, report) = try drill.drill("drill")
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("drill PASSED: RPO "))
            #expect(result.stdout.contains("report: "))
            #expect(report["verdict"] as? String == "pass")

            // RPO: from the drill's start back to the last heartbeat that was archived (≥ the 6 s without archiving).
            let started = try #require(date(report["started_at"]))
            let rpo = try #require(report["rpo"] as? [String: Any])
            let measured = try #require(rpo["measured_seconds"] as? Double)
            let expected = started.timeIntervalSince1970 - lastArchived
            #expect(abs(measured - expected) < 0.01, "measured \(measured), expected \(expected)")
            #expect(measured >= 6 && measured < 300)
            #expect(rpo["verdict"] as? String == "pass")
            #expect((rpo["method"] as? String ?? "").hasPrefix("heartbeat"))

            // RTO: from the start until the checks passed, with its phases.
            let rto = try #require(report["rto"] as? [String: Any])
            let rtoSeconds = try #require(rto["measured_seconds"] as? Double)
            let ended = try #require(date(report["ended_at"]))
            #expect(rtoSeconds > 0 && rtoSeconds <= ended.timeIntervalSince(started))
            let phases = (report["phases"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(phases == ["fetch, decrypt, decompress, write", "server start-up", "WAL replay until writable", "checks"])
            let checks = report["checks"] as? [[String: Any]] ?? []
            #expect(checks.count == 4)
            #expect(checks.allSatisfy { $0["passed"] as? Bool == true })
            #expect((report["evidence_digest"] as? String)?.count == 64)
            let restore = try #require((report["restores"] as? [[String: Any]])?.first)
            #expect(restore["database"] as? String == "shop")
            #expect((restore["replayed_from"] as? String)?.contains("/") == true)
            #expect((restore["replayed_up_to"] as? String)?.contains("/") == true)
            #expect(!FileManager.default.fileExists(atPath: restore["scratch_folder"] as? String ?? "/"))
            #expect(drill.scratchFolders.isEmpty)

            // The report files: JSON, Markdown with its sections, a self-contained HTML page.
            let reports = try FileManager.default.contentsOfDirectory(atPath: setup.bench.folder.file("reports"))
            #expect(reports.filter { $0.hasPrefix("drill-") }.count == 3)
            let markdown = try String(contentsOfFile: setup.bench.folder.file("reports/" + reports.first { $0.hasSuffix(".md") }!),
                                      encoding: .utf8)
            for section in ["# Drill report: drill — PASS", "## Objectives", "## RTO breakdown", "## Restores", "## Checks", "## Timeline"] {
                #expect(markdown.contains(section), "missing \(section)")
            }
            let html = try drill.lifeboat(["drills", "show", report["run_id"] as? String ?? "", "--format", "html"])
            #expect(html.stdout.hasPrefix("<!DOCTYPE html>") && !html.stdout.contains("http"))

            // Status: inside an hour's RPO; outside a 2 s one (nothing was archived for longer than that).
            let inside = try drill.lifeboat(["status", "--inventory", drill.inventory, "--json"])
            #expect(inside.status == 0, "\(inside.stdout)\(inside.stderr)")
            let status = try #require(try JSONSerialization.jsonObject(with: Data(inside.stdout.utf8)) as? [String: Any])
            let row = try #require((status["databases"] as? [[String: Any]])?.first)
            #expect(row["last_drill_verdict"] as? String == "pass")
            #expect(row["within_targets"] as? Bool == true)
            let outside = try drill.lifeboat(["status", "--inventory", drill.inventory, "--rpo", "2s"])
            #expect(outside.status == 5, "\(outside.stdout)\(outside.stderr)")
            #expect(outside.stdout.contains("OUTSIDE TARGETS"))
        }
    }

    @Test("a drill fails with exit 4 on a failed check and on a missed RTO, still writes its report; --keep keeps the server")
    func failingDrills() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let drill = try DrillSetup(setup, source: source)
            try await drill.backedUpOrders(100)

            try drill.drillPlan("bad-check", checks: """
                        - { name: orders, sql: "SELECT count(*) FROM orders", equals: "42" }
                """)
            let (failed, report) = try drill.drill("bad-check")
            #expect(failed.status == 4, "\(failed.stdout)\(failed.stderr)")
            #expect(failed.stderr.contains("drill FAILED"))
            #expect(failed.stderr.contains("check 'orders' failed: expected equals 42, got 100"))
            #expect(report["verdict"] as? String == "fail")
            #expect(((report["rto"] as? [String: Any])?["verdict"] as? String) == "fail")
            #expect(drill.scratchFolders.isEmpty)

            try drill.drillPlan("slow", checks: """
                        - { name: orders, sql: "SELECT count(*) FROM orders", equals: "100" }
                """, targets: "{ rpo: 1h, rto: 100ms }")
            let (slow, slowReport) = try drill.drill("slow", ["--keep"])
            #expect(slow.status == 4, "\(slow.stdout)\(slow.stderr)")
            #expect(slow.stderr.contains("RTO") && slow.stderr.contains("exceeds the target of 0.1s"))
            #expect(((slowReport["checks"] as? [[String: Any]]) ?? []).allSatisfy { $0["passed"] as? Bool == true })
            // --keep: the server is still there and answers; then it is removed by hand.
            #expect(slow.stdout.contains("kept the scratch server of step 'restore'"))
            let folders = drill.scratchFolders
            #expect(folders.count == 1)
            let kept = drill.scratchParent + "/" + (folders.first ?? "")
            let conninfo = try #require(slow.stdout.components(separatedBy: "psql '").dropFirst().first?
                .split(separator: "'").first.map(String.init))
            #expect(try PostgresConnection(conninfo: conninfo).query("SELECT count(*) FROM orders").scalar == "100")
            _ = try ServerUser.run(source.binDirectory + "/pg_ctl", ["-D", kept + "/pgdata", "-m", "immediate", "stop"])
            try FileManager.default.removeItem(atPath: kept)
            // Each drill ended its recovery lease (the kept one's too: its drill is over).
            let opened = try Repository.BackupRepository.open(at: setup.repo, credential: .keyFile(setup.keyFile))
            #expect(try opened.recoveryLeases().isEmpty)

            // A segment missing between the backup and the drill's start: the RPO cannot be met, and the drill says so.
            let db = try source.connect()
            var switched: [String] = []
            for round in 1...3 {
                try db.query("INSERT INTO orders SELECT g FROM generate_series(\(round * 1000), \(round * 1000 + 10)) g")
                switched.append(try #require(try db.query("SELECT pg_walfile_name(pg_switch_wal())").scalar))
            }
            try await waitForArchive(db)
            let cluster = try systemIdentifier(source)
            try FileManager.default.removeItem(atPath: setup.repo + "/wal/\(cluster)/\(switched[1].prefix(8))/\(switched[1])")
            let (gap, gapReport) = try drill.drill("bad-check")
            #expect(gap.status == 4, "\(gap.stdout)\(gap.stderr)")
            #expect(gap.stderr.contains("RPO not met") && gap.stderr.contains(switched[1]), "\(gap.stderr)")
            #expect(((gapReport["rpo"] as? [String: Any])?["verdict"] as? String) == "fail")
            #expect(drill.scratchFolders.isEmpty)
        }
    }

    @Test("SIGTERM during a drill stops and removes its scratch server; exit 130")
    func cancelledDrill() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let drill = try DrillSetup(setup, source: source)
            try await drill.backedUpOrders(100)
            try drill.drillPlan("stuck", checks: """
                        - { name: slow, sql: "SELECT 1 FROM pg_sleep(60)", equals: "1" }
                """)
            let process = try setup.bench.cli.start(["run", setup.bench.folder.file("stuck.yaml")])
            let parent = drill.scratchParent
            let started = await eventually(60) {
                ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).contains {
                    FileManager.default.fileExists(atPath: parent + "/" + $0 + "/socket/server.log")
                        && FileManager.default.fileExists(atPath: parent + "/" + $0 + "/pgdata/postmaster.pid")
                }
            }
            #expect(started, "the scratch server never started")
            try await Task.sleep(for: .seconds(2))
            let pidText = drill.scratchFolders.first.flatMap {
                try? String(contentsOfFile: parent + "/" + $0 + "/pgdata/postmaster.pid", encoding: .utf8)
            }
            let postmaster = Int32(pidText?.split(separator: "\n").first ?? "") ?? 0
            process.signal(SIGTERM)
            let result = process.wait()
            #expect(result.status == 130, "\(result.stdout)\(result.stderr)")
            #expect(drill.scratchFolders.isEmpty)
            #expect(postmaster > 0 && !processExists(postmaster))
        }
    }
}
