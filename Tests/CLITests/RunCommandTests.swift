import Foundation
import TestSupport
import Testing

@Suite("lifeboat run, as cron and operators use it", .serialized)
struct RunCommandTests {
    @Test("a successful run prints nothing and exits 0; runs list and show record it")
    func quietSuccess() throws {
        let bench = try CLIBench()
        let file = try bench.plan("ok.yaml", """
            plan: quiet
            kind: backup
            steps:
              - { id: hello, uses: exec, with: { command: [echo, hello from a step] } }
            """)
        let result = try bench.run(["run", file, "--trigger", "cron"])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.isEmpty)

        let runs = try bench.runs()
        #expect(runs.count == 1)
        let run = try #require(runs.first)
        #expect(run["status"] as? String == "succeeded")
        #expect(run["trigger"] as? String == "cron")
        #expect((run["plan_digest"] as? String)?.count == 64)
        let id = try #require(run["id"] as? String)

        let show = try bench.run(["runs", "show", String(id.prefix(18))])
        #expect(show.status == 0)
        #expect(show.stdout.contains("status   succeeded"))
        #expect(show.stdout.contains("| hello from a step"))
        let log = try String(contentsOfFile: try #require(run["log_file"] as? String), encoding: .utf8)
        #expect(log.contains("hello from a step"))

        let verbose = try bench.run(["run", file, "--verbose"])
        #expect(verbose.status == 0)
        #expect(verbose.stdout.contains("✓ hello succeeded"))

        let unknown = try bench.run(["runs", "show", "nope"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no run 'nope'"))
    }

    @Test("a failed run exits 1 and says which step failed, why and where the log is")
    func failureSummary() throws {
        let bench = try CLIBench()
        let file = try bench.plan("fail.yaml", """
            plan: failing
            kind: backup
            steps:
              - { id: dump, uses: exec, with: { command: [sh, -c, 'echo "pg_dump: connection refused" >&2; exit 2'] } }
              - { id: upload, uses: exec, needs: dump, with: { command: ["true"] } }
            """)
        let result = try bench.run(["run", file])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("plan 'failing' failed: step 'dump' failed: 'sh' exited with status 2: pg_dump: connection refused"))
        #expect(result.stderr.contains("log: \(bench.folder.file("state/logs/"))"))
        #expect(result.stderr.contains("details: lifeboat runs show "))
        let run = try #require(try bench.runs().first)
        let show = try bench.run(["runs", "show", try #require(run["id"] as? String), "--json"])
        let details = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let steps = try #require(details["steps"] as? [[String: Any]])
        #expect(steps.map { $0["status"] as? String } == ["failed", "skipped"])
    }

    @Test("--dry-run prints the plan, reads no secret and records nothing")
    func dryRun() throws {
        let bench = try CLIBench()
        let file = try bench.plan("dry.yaml", """
            plan: dry
            kind: backup
            steps: [ { id: a, uses: exec, with: { command: [echo, "${env:NOT_SET_ANYWHERE}"] } } ]
            """)
        let result = try bench.run(["run", "--dry-run", file])
        #expect(result.status == 0)
        #expect(result.stdout.contains("a  [exec]"))
        #expect(result.stdout.contains("dry run: nothing was run"))
        #expect(try bench.runs().isEmpty)
    }

    @Test("an approval without a terminal fails clearly; --yes approves")
    func approval() throws {
        let bench = try CLIBench()
        let file = try bench.plan("gate.yaml", """
            plan: gate
            kind: failover
            steps:
              - { id: confirm, uses: approval, with: { prompt: Fence the old primary? } }
              - { id: fence, uses: exec, needs: confirm, with: { command: ["true"] } }
            """)
        let refused = try bench.run(["run", file])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("approval 'confirm' needs an operator, but there is no terminal"))
        let approved = try bench.run(["run", file, "--yes"])
        #expect(approved.status == 0, "\(approved.stderr)")
    }

    @Test("an invalid plan is refused with exit 2 before anything runs")
    func invalidPlan() throws {
        let bench = try CLIBench()
        let file = try bench.plan("broken.yaml", "plan: broken\nkind: backup\nsteps: []\n")
        let result = try bench.run(["run", file])
        #expect(result.status == 2)
        #expect(result.stderr.contains("broken.yaml:3:8: error: 'steps' is empty"))
        #expect(try bench.runs().isEmpty)
    }

    @Test("SIGTERM cancels the run: the step's process ends, the run is cancelled, exit 130")
    func cancellation() async throws {
        let bench = try CLIBench()
        let pidFile = bench.folder.file("child.pid")
        let file = try bench.sleeperPlan("cancellable", pidFile: pidFile)
        let process = try bench.cli.start(["run", file])
        #expect(await eventually { !bench.read("child.pid").isEmpty })
        let child = try #require(Int32(bench.read("child.pid")))
        #expect(processExists(child))
        process.signal(SIGTERM)
        let result = process.wait()
        #expect(result.status == 130)
        #expect(result.stderr.contains("was cancelled"))
        #expect(await eventually { !processExists(child) })
        let run = try #require(try bench.runs().first)
        #expect(run["status"] as? String == "cancelled")
        let show = try bench.run(["runs", "show", try #require(run["id"] as? String)])
        #expect(stepLine("sleep", in: show.stdout)?.contains(" cancelled ") == true)
        #expect(stepLine("after", in: show.stdout)?.contains(" cancelled ") == true)
    }

    @Test("a second start of a running plan exits 11 and names the holder")
    func lockContention() async throws {
        let bench = try CLIBench()
        let pidFile = bench.folder.file("first.pid")
        let file = try bench.sleeperPlan("exclusive", pidFile: pidFile)
        let first = try bench.cli.start(["run", file])
        #expect(await eventually { !bench.read("first.pid").isEmpty })
        let second = try bench.run(["run", file])
        #expect(second.status == 11)
        #expect(second.stderr.contains("plan 'exclusive' is already running (process \(first.pid), running since"))
        first.signal(SIGINT)
        #expect(first.wait().status == 130)
        // Once the first has ended, the lock is gone with it.
        let third = try bench.run(["run", "--dry-run", file])
        #expect(third.status == 0)
        let runs = try bench.runs()
        #expect(runs.count == 1)
    }

    @Test("a run whose process was killed shows as interrupted, and the plan can run again")
    func killedRunIsInterrupted() async throws {
        let bench = try CLIBench()
        let pidFile = bench.folder.file("victim.pid")
        let file = try bench.sleeperPlan("killed", pidFile: pidFile)
        let process = try bench.cli.start(["run", file])
        #expect(await eventually { !bench.read("victim.pid").isEmpty })
        let child = try #require(Int32(bench.read("victim.pid")))
        process.signal(SIGKILL)
        #expect(process.wait().status == 128 + SIGKILL)
        // The step's own process is in its own session and outlives a SIGKILLed Lifeboat; end it here.
        kill(-child, SIGKILL)
        let run = try #require(try bench.runs().first)
        #expect(run["status"] as? String == "interrupted")
        let show = try bench.run(["runs", "show", try #require(run["id"] as? String)])
        #expect(show.stdout.contains("status   interrupted"))
        #expect(stepLine("sleep", in: show.stdout)?.contains(" interrupted ") == true)

        let quick = try bench.sleeperPlan("killed", pidFile: bench.folder.file("again.pid"), seconds: 0)
        let again = try bench.run(["run", quick])
        #expect(again.status == 0, "\(again.stderr)")
    }
}

/// The row of `runs show`'s step table for `step`.
func stepLine(_ step: String, in text: String) -> String? {
    text.split(separator: "\n").first { $0.hasPrefix(step + " ") }.map(String.init)
}
