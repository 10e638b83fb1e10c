import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Failover plans: fence, promote, check, reroute, re-baseline; resume; refusals", .serialized)
struct FailoverTests {
    /// `pg_ctl` as the server's user.
    func pgctl(_ cluster: PostgresCluster, _ arguments: [String]) -> String {
        let words = [cluster.binDirectory + "/pg_ctl", "-D", cluster.dataDirectory] + arguments
        let command = (geteuid() == 0 ? ["runuser", "-u", "postgres", "--"] : []) + words
        return "[" + command.map { "\"\($0)\"" }.joined(separator: ", ") + "]"
    }

    @Test("the standby takes over: fenced primary, promoted standby accepts writes, timeline 2 archived and restorable")
    func failover() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { primary in
            let db = try primary.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            let backup = try json(try setup.lifeboat(["backup", "--conninfo", primary.conninfo(), "--json"]))
            let firstBackup = try #require(backup["id"] as? String)
            let standby = try PostgresCluster.standby(of: primary)
            defer { standby.stop() }
            try db.query("INSERT INTO t VALUES (1001)")
            #expect(await eventually(30) {
                (try? standby.connect().query("SELECT count(*) FROM t").scalar) == "1001"
            })

            try setup.bench.plan("inventory.yaml", """
                databases:
                  old: { host: \(primary.socketDirectory), port: \(primary.port), user: postgres, dbname: postgres }
                  new: { host: \(standby.socketDirectory), port: \(standby.port), user: postgres, dbname: postgres }
                repositories:
                  primary: { location: \(setup.repo), key_file: \(setup.keyFile) }
                """)
            let plan = try setup.bench.plan("failover.yaml", """
                plan: orders-failover
                kind: failover
                inventory: inventory.yaml
                steps:
                  - id: fence
                    uses: postgres.fence
                    with: { command: \(pgctl(primary, ["-m", "fast", "-w", "stop"])), database: old }
                  - { id: promote, uses: postgres.promote, needs: fence, with: { database: new } }
                  - id: health
                    uses: postgres.check
                    needs: promote
                    with: { database: new, writable: true, until: 30s, checks: [ { name: rows, sql: "SELECT count(*) FROM t", equals: "1001" } ] }
                  - { id: reroute, uses: exec, needs: health, with: { command: [echo, "pooler now points at the standby"] } }
                  - { id: rebaseline, uses: postgres.rebaseline, needs: health, with: { database: new, repository: primary } }
                """)
            let result = try setup.bench.run(["failover", plan, "--yes"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("promote"))
            let promoted = try standby.connect()
            try promoted.query("INSERT INTO t VALUES (2001)")
            #expect(try promoted.query("SELECT pg_is_in_recovery()").scalar == "f")
            try await waitForArchive(promoted)
            #expect(FileManager.default.fileExists(atPath: setup.repo + "/wal/\(try systemIdentifier(standby))/00000002/00000002.history"))

            // The timeline: every step in order, with UTC times.
            let runId = try #require(try setup.bench.runs().first?["id"] as? String)
            let timeline = try setup.bench.run(["runs", "show", runId, "--timeline"])
            let lines = timeline.stdout.split(separator: "\n").map(String.init)
            for step in ["fence", "promote", "health", "reroute", "rebaseline"] {
                #expect(lines.contains { $0.contains("step \(step) succeeded") }, "\(timeline.stdout)")
            }
            #expect(lines.last?.contains("run succeeded") == true)

            // A restore of the backup taken before the failover follows timeline 2 to the write made after it.
            do {
                let restored = try await setup.restoreAndStart(["--backup", firstBackup])
                defer { restored.stop() }
                #expect(try restored.connect().query("SELECT count(*) FROM t WHERE g = 2001").scalar == "1")
            }

            // The re-baseline recorded timeline 1 as left behind: its backup ages out with timeline 2's.
            let expiry = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "1", "--dry-run", "--json"]))
            #expect(expiry["removed"] as? [String] == [firstBackup], "\(expiry)")
            #expect((expiry["kept"] as? [String])?.count == 1)
        }
    }

    @Test("a failover drill runs the plan on a scratch primary and standby, leaves production alone, measures the RTO")
    func drill() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { primary in
            let db = try primary.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", primary.conninfo()]).status == 0)
            try await waitForArchive(db)
            let rerouted = setup.bench.folder.file("rerouted")
            try setup.bench.plan("inventory.yaml", """
                databases:
                  old: { host: \(primary.socketDirectory), port: \(primary.port), user: postgres, dbname: postgres }
                  new: { host: /nonexistent, port: 1, user: postgres, dbname: postgres }
                repositories:
                  primary: { location: \(setup.repo), key_file: \(setup.keyFile) }
                """)
            let plan = try setup.bench.plan("failover.yaml", """
                plan: orders-failover
                kind: failover
                inventory: inventory.yaml
                targets: { rto: 10m }
                steps:
                  - { id: fence, uses: postgres.fence, with: { command: [false], database: old } }
                  - { id: promote, uses: postgres.promote, needs: fence, with: { database: new } }
                  - id: health
                    uses: postgres.check
                    needs: promote
                    with: { database: new, writable: true, until: 30s, checks: [ { name: rows, sql: "SELECT count(*) FROM t", equals: "1000" } ] }
                  - { id: reroute, uses: exec, needs: health, with: { command: [touch, \(rerouted)] } }
                  - { id: rebaseline, uses: postgres.rebaseline, needs: health, with: { database: new, repository: primary } }
                """)
            let result = try setup.bench.run(["failover", plan, "--drill"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("drill PASSED"))
            #expect(result.stdout.contains("RTO ") && result.stdout.contains("(target 10m, PASS)"))
            // Production untouched: the real primary still takes writes, the reroute did not run.
            try db.query("INSERT INTO t VALUES (1001)")
            #expect(!FileManager.default.fileExists(atPath: rerouted))
            let report = try JSONSerialization.jsonObject(with: Data(try setup.bench.run(["drills", "show",
                (try setup.bench.runs().first?["id"] as? String) ?? "", "--format", "json"]).stdout.utf8)) as? [String: Any]
            #expect(((report?["rto"] as? [String: Any])?["method"] as? String)?.contains("health checks passed") == true)
            let steps = (report?["steps"] as? [[String: Any]] ?? []).map { $0["status"] as? String ?? "" }
            #expect(steps == ["succeeded", "succeeded", "succeeded", "succeeded", "succeeded"])
        }
    }

    @Test("a promote of a server that is not a standby is refused")
    func refusesPrimary() async throws {
        let bench = try CLIBench()
        try await PostgresCluster.with { primary in
            let plan = try bench.plan("promote.yaml", """
                plan: wrong
                kind: failover
                inventory: inventory.yaml
                steps: [ { id: promote, uses: postgres.promote, with: { database: main } } ]
                """)
            try bench.plan("inventory.yaml", """
                databases:
                  main: { host: \(primary.socketDirectory), port: \(primary.port), user: postgres, dbname: postgres }
                """)
            let result = try bench.run(["failover", plan, "--yes"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("main is not a standby: it already accepts writes; not promoting it"))
        }
    }

    @Test("resume continues a failed run from its failed step, with the same run id")
    func resume() throws {
        let bench = try CLIBench()
        let marks = bench.folder.file("marks"), blocker = bench.folder.file("blocked")
        try bench.folder.write("blocked", "")
        let plan = try bench.plan("steps.yaml", """
            plan: two-steps
            kind: failover
            steps:
              - { id: first, uses: exec, with: { command: [sh, -c, 'echo first >> \(marks)'] } }
              - { id: second, uses: exec, needs: first, with: { command: [sh, -c, 'test ! -e \(blocker) && echo second >> \(marks)'] } }
            """)
        let failed = try bench.run(["failover", plan, "--yes"])
        #expect(failed.status == 1)
        let runId = try #require(try bench.runs().first?["id"] as? String)
        try FileManager.default.removeItem(atPath: blocker)
        let resumed = try bench.run(["resume", runId])
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(resumed.stdout.contains("already done: first"))
        #expect(bench.read("marks") == "first\nsecond")
        let runs = try bench.runs()
        #expect(runs.count == 1)
        #expect(runs.first?["status"] as? String == "succeeded")
        let again = try bench.run(["resume", runId])
        #expect(again.status == 2)
        #expect(again.stderr.contains("is succeeded; only failed, cancelled or interrupted runs can be resumed"))
    }
}
