import Engine
import Foundation
import Plans
import TestSupport
import Testing
import LifeboatCore

@Suite("The plan runner", .serialized)
struct PlanRunnerTests {
    @Test("steps run after what they need; independent steps overlap")
    func graphOrderAndParallelism() async throws {
        let bench = try RunnerBench()
        let plan = try bench.plan("""
            plan: graph
            kind: backup
            concurrency: 4
            steps:
              - { id: d, uses: exec, needs: [b, c], with: { command: [true] } }
              - { id: a, uses: exec, with: { command: [true] } }
              - { id: b, uses: exec, needs: a, with: { command: \(bench.sh("sleep 0.6")) } }
              - { id: c, uses: exec, needs: a, with: { command: \(bench.sh("sleep 0.6")) } }
            """)
        let outcome = try await bench.run(plan)
        #expect(outcome.run.status == .succeeded)
        let a = try #require(outcome.step("a")), b = try #require(outcome.step("b"))
        let c = try #require(outcome.step("c")), d = try #require(outcome.step("d"))
        #expect(b.startedAt! >= a.endedAt! && c.startedAt! >= a.endedAt!)
        #expect(d.startedAt! >= b.endedAt! && d.startedAt! >= c.endedAt!)
        // b and c ran at the same time.
        #expect(b.startedAt! < c.endedAt! && c.startedAt! < b.endedAt!)
    }

    @Test("concurrency 1 runs one step at a time")
    func concurrencyLimit() async throws {
        let bench = try RunnerBench()
        let plan = try bench.plan("""
            plan: serial
            kind: backup
            concurrency: 1
            steps:
              - { id: x, uses: exec, with: { command: \(bench.sh("sleep 0.3")) } }
              - { id: y, uses: exec, with: { command: \(bench.sh("sleep 0.3")) } }
              - { id: z, uses: exec, with: { command: \(bench.sh("sleep 0.3")) } }
            """)
        let outcome = try await bench.run(plan)
        let intervals = outcome.steps.map { ($0.startedAt!, $0.endedAt!) }.sorted { $0.0 < $1.0 }
        for (first, second) in zip(intervals, intervals.dropFirst()) {
            #expect(second.0 >= first.1)
        }
        // The command line may raise the limit.
        let parallel = try await bench.run(plan) { $0.maxParallel = 3 }
        let p = parallel.steps
        #expect(p[0].startedAt! < p[1].endedAt! && p[1].startedAt! < p[0].endedAt!)
    }

    @Test("a step over its timeout fails and its process is ended")
    func timeout() async throws {
        let bench = try RunnerBench()
        let pidFile = bench.folder.file("sleep.pid")
        let plan = try bench.plan("""
            plan: slow
            kind: backup
            steps:
              - id: slow
                uses: exec
                timeout: 3s
                with: { command: \(bench.sh("echo $$ > \(pidFile); exec sleep 30")) }
            """)
        let outcome = try await bench.run(plan)
        let step = try #require(outcome.step("slow"))
        #expect(step.status == .failed)
        #expect(step.error == "timed out after 3s")
        #expect(outcome.run.status == .failed)
        let pid = try #require(Int32(bench.read("sleep.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually { !processExists(pid) })
    }

    @Test("failed attempts are retried with growing backoff")
    func retries() async throws {
        let bench = try RunnerBench()
        let counter = bench.folder.file("attempts")
        // Fails twice, then succeeds; every attempt appends its start time in milliseconds.
        let script = "date +%s%3N >> \(counter); [ $(wc -l < \(counter)) -ge 3 ]"
        let plan = try bench.plan("""
            plan: flaky
            kind: backup
            steps:
              - id: flaky
                uses: exec
                retries: { count: 3, backoff: 300ms }
                with: { command: \(bench.sh(script)) }
            """)
        let outcome = try await bench.run(plan)
        let step = try #require(outcome.step("flaky"))
        #expect(step.status == .succeeded)
        #expect(step.attempts == 3)
        let times = bench.read("attempts").split(separator: "\n").compactMap { Int($0) }
        try #require(times.count == 3)
        // 300ms ± 20 % before the first retry, twice that before the second.
        #expect(times[1] - times[0] >= 240)
        #expect(times[2] - times[1] >= 480)
    }

    @Test("when retries run out the step fails with every attempt counted")
    func retriesExhausted() async throws {
        let bench = try RunnerBench()
        let plan = try bench.plan("""
            plan: broken
            kind: backup
            steps:
              - { id: broken, uses: exec, retries: { count: 2, backoff: 10ms }, with: { command: \(bench.sh("echo no luck; exit 3")) } }
            """)
        let outcome = try await bench.run(plan)
        let step = try #require(outcome.step("broken"))
        #expect(step.status == .failed)
        #expect(step.attempts == 3)
        #expect(step.error == "'sh' exited with status 3: no luck")
        #expect(outcome.run.error == "step 'broken' failed: 'sh' exited with status 3: no luck")
    }

    @Test("on_failure stop skips what has not started; continue lets the run go on")
    func failureModes() async throws {
        let bench = try RunnerBench()
        let stop = try bench.plan("""
            plan: stops
            kind: backup
            concurrency: 1
            steps:
              - { id: fails, uses: exec, with: { command: [false] } }
              - { id: later, uses: exec, with: { command: [true] } }
              - { id: dependent, uses: exec, needs: fails, with: { command: [true] } }
            """)
        let stopped = try await bench.run(stop)
        #expect(stopped.run.status == .failed)
        #expect(stopped.step("fails")?.status == .failed)
        #expect(stopped.step("later")?.status == .skipped)
        #expect(stopped.step("dependent")?.status == .skipped)

        let goOn = try bench.plan("""
            plan: continues
            kind: backup
            steps:
              - { id: optional, uses: exec, on_failure: continue, with: { command: [false] } }
              - { id: dependent, uses: exec, needs: optional, with: { command: [true] } }
            """, name: "continue.yaml")
        let continued = try await bench.run(goOn)
        #expect(continued.run.status == .succeeded)
        #expect(continued.step("optional")?.status == .failed)
        #expect(continued.step("optional")?.ignoredFailure == true)
        #expect(continued.step("dependent")?.status == .succeeded)
    }

    @Test("plan-level on_success and on_failure steps run after the main steps")
    func hooks() async throws {
        let bench = try RunnerBench()
        let marker = bench.folder.file("hooks")
        let yaml = { (command: String) in """
            plan: hooked
            kind: backup
            steps:
              - { id: main, uses: exec, with: { command: [\(command)] } }
            on_success:
              - { id: celebrate, uses: exec, with: { command: \(bench.sh("echo success >> \(marker)")) } }
            on_failure:
              - { id: alert, uses: exec, with: { command: \(bench.sh("echo failure >> \(marker)")) } }
            """
        }
        let good = try await bench.run(try bench.plan(yaml("true"), name: "good.yaml"))
        #expect(good.run.status == .succeeded)
        #expect(good.steps.map(\.stepId) == ["main", "celebrate"])
        #expect(good.step("celebrate")?.phase == .onSuccess)
        let bad = try await bench.run(try bench.plan(yaml("false"), name: "bad.yaml"))
        #expect(bad.run.status == .failed)
        #expect(bad.step("alert")?.status == .succeeded)
        #expect(bench.read("hooks") == "success\nfailure\n")
        let recorded = try bench.catalog.run(bad.run.id)
        #expect(recorded.steps.map(\.stepId) == ["main", "alert"])
    }

    @Test("cancelling a run ends its processes and records it as cancelled")
    func cancellation() async throws {
        let bench = try RunnerBench()
        let pidFile = bench.folder.file("child.pid")
        let plan = try bench.plan("""
            plan: cancel-me
            kind: backup
            steps:
              - { id: long, uses: exec, with: { command: \(bench.sh("echo $$ > \(pidFile); exec sleep 60")) } }
              - { id: after, uses: exec, needs: long, with: { command: [true] } }
            """)
        let task = Task { try await bench.run(plan) }
        #expect(await eventually { !bench.read("child.pid").isEmpty })
        task.cancel()
        let outcome = try await task.value
        #expect(outcome.run.status == .cancelled)
        #expect(outcome.step("long")?.status == .cancelled)
        #expect(outcome.step("after")?.status == .cancelled)
        let pid = try #require(Int32(bench.read("child.pid").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await eventually { !processExists(pid) })
        #expect(try bench.catalog.run(outcome.run.id).run.status == .cancelled)
    }

    @Test("a plan that is already running cannot start again")
    func lock() async throws {
        let bench = try RunnerBench()
        let plan = try bench.plan("""
            plan: locked
            kind: backup
            steps: [ { id: a, uses: exec, with: { command: [true] } } ]
            """)
        let held = try PlanLock.acquire(plan: "locked", in: bench.catalog.state)
        await #expect(throws: LifeboatError.self) { try await bench.run(plan) }
        do {
            _ = try await bench.run(plan)
        } catch let error as LifeboatError {
            #expect(error.code == .locked)
            #expect(error.message.contains("process \(getpid())"))
        }
        withExtendedLifetime(held) {}
        _ = held
    }

    @Test("secrets are resolved when the step runs and never reach the catalog or the log")
    func secretsAreRedacted() async throws {
        let bench = try RunnerBench()
        let secretFile = try bench.folder.write("token", "file-secret-42\n")
        let plan = try bench.plan("""
            plan: secrets
            kind: backup
            steps:
              - id: leak
                uses: exec
                with:
                  command: [sh, -c, 'echo "env=$TOKEN file=$1"; exit 1', sh, "${file:\(secretFile)}"]
                  env: { TOKEN: "${env:LIFEBOAT_TEST_TOKEN}" }
            """)
        let outcome = try await bench.run(plan) { $0.environment = ["LIFEBOAT_TEST_TOKEN": "env-secret-17", "PATH": "/usr/bin:/bin"] }
        let step = try #require(outcome.step("leak"))
        #expect(step.outputTail == "env=*** file=***")
        #expect(step.error?.contains("secret") == false)
        let log = try String(contentsOfFile: outcome.run.logFile, encoding: .utf8)
        #expect(log.contains("env=*** file=***"))
        #expect(!log.contains("env-secret-17") && !log.contains("file-secret-42"))
        let catalogBytes = try Data(contentsOf: URL(fileURLWithPath: bench.catalog.state.catalogPath))
        #expect(catalogBytes.range(of: Data("env-secret-17".utf8)) == nil)
    }

    @Test("a missing secret fails the step and names the reference")
    func missingSecret() async throws {
        let bench = try RunnerBench()
        let plan = try bench.plan("""
            plan: nosecret
            kind: backup
            steps: [ { id: a, uses: exec, with: { command: [echo, "${env:LIFEBOAT_SURELY_UNSET}"] } } ]
            """)
        let outcome = try await bench.run(plan) { $0.environment = [:] }
        #expect(outcome.step("a")?.error == "secret ${env:LIFEBOAT_SURELY_UNSET} is not set")
    }

    @Test("approval gates pass with --yes and fail clearly without a terminal")
    func approvals() async throws {
        let bench = try RunnerBench()
        let plan = try bench.plan("""
            plan: gate
            kind: failover
            steps: [ { id: go, uses: approval, with: { prompt: "Promote the standby?" } } ]
            """)
        let refused = try await bench.run(plan)
        #expect(refused.step("go")?.status == .failed)
        #expect(refused.step("go")?.error == "approval 'go' needs an operator, but there is no terminal")
        let approved = try await bench.run(plan) { $0.interaction = Interaction(assumeYes: true, isTerminal: false) }
        #expect(approved.run.status == .succeeded)
        #expect(approved.step("go")?.outputTail?.contains("with --yes: Promote the standby?") == true)
    }
}
