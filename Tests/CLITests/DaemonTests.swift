import Foundation
import TestSupport
import Testing

@Suite("lifeboat daemon, schedule, cron print", .serialized)
struct DaemonTests {
    @Test("one daemon per state directory; SIGHUP keeps a plan that no longer loads; SIGTERM stops it")
    func daemon() async throws {
        let bench = try CLIBench()
        let plan = try bench.plan("plans/nightly.yaml", """
            plan: nightly
            kind: backup
            schedule: { cron: "30 2 * * *", timezone: Europe/Berlin, missed: skip }
            steps: [ { id: ok, uses: exec, with: { command: ["true"] } } ]
            """)
        let folder = bench.folder.file("plans")
        #expect(try bench.run(["run", plan]).status == 0)
        // A database with no backup anywhere, held to the inventory's RPO: the metrics say what status says.
        try bench.plan("plans/lifeboat.yaml", """
            databases:
              orders: { host: 127.0.0.1, port: \(try PostgresCluster.freePort()), dbname: orders, rpo: 1m }
            """)
        let port = try PostgresCluster.freePort()
        let daemon = try bench.cli.start(["daemon", "--plans", folder, "--grace", "5s", "--metrics", "127.0.0.1:\(port)"])
        #expect(await eventually(20) { daemon.stderrSoFar.contains("plans loaded from \(folder): nightly") }, "\(daemon.stderrSoFar)")

        // Metrics and health over HTTP.
        func get(_ path: String) throws -> String {
            try ProcessRunner.run("/usr/bin/python3", ["-c", "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                       "http://127.0.0.1:\(port)\(path)"]).stdout
        }
        #expect(await eventually(20) { ((try? get("/healthz")) ?? "") == "ok\n" })
        let scraped = try get("/metrics")
        #expect(scraped.contains("lifeboat_plan_last_run_success{plan=\"nightly\"} 1"), "\(scraped)")
        #expect(scraped.contains("# HELP lifeboat_plan_last_run_duration_seconds"))
        #expect(scraped.contains("lifeboat_notification_failures 0"))
        #expect(scraped.contains("lifeboat_database_within_targets{database=\"orders\"} 0"), "\(scraped)")
        #expect(scraped.contains("lifeboat_database_rpo_target_seconds{database=\"orders\"} 60"), "\(scraped)")

        let second = try bench.run(["daemon", "--plans", folder, "--metrics", "off"])
        #expect(second.status == 11, "\(second.stderr)")
        #expect(second.stderr.contains("a Lifeboat daemon already runs"))

        try bench.plan("plans/nightly.yaml", "plan: nightly\nkind: backup\nsteps: [ { id: x, uses: exce } ]\n")
        daemon.signal(SIGHUP)
        #expect(await eventually(20) { daemon.stderrSoFar.contains("does not load, keeping its previous version (plan nightly)") },
                "\(daemon.stderrSoFar)")
        _ = plan
        daemon.signal(SIGTERM)
        let result = daemon.wait()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("stopped"))

        let schedule = try bench.run(["schedule", "--plans", folder])
        #expect(schedule.status == 2)  // the broken plan is reported
        #expect(schedule.stderr.contains("unknown step type 'exce'"))
    }

    @Test("schedule shows next times in the plan's zone and UTC; cron print writes CRON_TZ and lock-protected runs")
    func scheduleAndCron() throws {
        let bench = try CLIBench()
        try bench.plan("plans/nightly.yaml", """
            plan: nightly
            kind: backup
            schedule: { cron: "30 2 * * *", timezone: America/New_York }
            steps: [ { id: ok, uses: exec, with: { command: ["true"] } } ]
            """)
        let folder = bench.folder.file("plans")
        let listed = try bench.run(["schedule", "--plans", folder, "--next", "2", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.first?["timezone"] as? String == "America/New_York")
        #expect((rows.first?["next_local"] as? [String])?.allSatisfy { $0.contains(" 02:30 ") } == true)
        #expect((rows.first?["next_utc"] as? [String])?.allSatisfy { $0.contains("T06:30:00Z") || $0.contains("T07:30:00Z") } == true)

        let cron = try bench.run(["cron", "print", "--plans", folder, "--lifeboat", "/usr/local/bin/lifeboat"])
        #expect(cron.status == 0)
        #expect(cron.stdout.contains("CRON_TZ=America/New_York\n30 2 * * * /usr/local/bin/lifeboat run --trigger cron "))
        let systemd = try bench.run(["systemd", "print", "--plans", folder, "--timers"])
        #expect(systemd.stdout.contains("OnCalendar=*-*-* 02:30:00 America/New_York"))
        #expect(systemd.stdout.contains("Persistent=true"))
    }
}
