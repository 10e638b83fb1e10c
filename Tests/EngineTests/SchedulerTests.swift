import Engine
import Foundation
import Logging
import Plans
import Synchronization
import TestSupport
import Testing

/// A clock the test moves by hand.
final class ManualClock: SchedulerClock {
    private let current: Mutex<Date>
    init(_ start: String) { current = Mutex(ISO8601DateFormatter().date(from: start)!) }
    var now: Date { current.withLock { $0 } }
    func set(_ text: String) { current.withLock { $0 = ISO8601DateFormatter().date(from: text)! } }
    func sleep(until: Date) async throws {}
}

/// Records runs; `hold` keeps runs going until `release`.
final class RecordingRunner: Sendable {
    let started = Mutex<[String]>([])
    let gate = Mutex<[CheckedContinuation<Void, Never>]>([])
    let holding = Atomic<Bool>(false)

    func run(_ plan: Plan) async {
        started.withLock { $0.append(plan.name) }
        if holding.load(ordering: .relaxed) {
            await withCheckedContinuation { continuation in gate.withLock { $0.append(continuation) } }
        }
    }

    func release() {
        holding.store(false, ordering: .relaxed)
        for continuation in gate.withLock({ list in defer { list = [] }; return list }) { continuation.resume() }
    }

    var count: Int { started.withLock { $0.count } }
}

@Suite("The scheduler: due slots, catch-up, restarts, overlap")
struct SchedulerTests {
    func plan(_ name: String, cron: String = "0 * * * *", missed: Schedule.Missed = .runOnce,
              overlap: Schedule.Overlap = .forbid) throws -> Plan {
        var schedule = Schedule(cron: try CronExpression(parsing: cron), timeZone: "UTC")
        schedule.missed = missed
        schedule.overlap = overlap
        return Plan(name: name, kind: .backup, schedule: schedule, steps: [])
    }

    /// A catalog in a temp folder, a clock at 10:30 UTC, a recording runner.
    func fixture() throws -> (TemporaryDirectory, Catalog, ManualClock, RecordingRunner) {
        let folder = try TemporaryDirectory()
        return (folder, try Catalog(state: StateDirectory(path: folder.file("state"))), ManualClock("2026-11-26T10:30:00Z"),
                RecordingRunner())
    }

    func scheduler(_ catalog: Catalog, _ clock: ManualClock, _ runner: RecordingRunner) -> Scheduler {
        Scheduler(catalog: catalog, clock: clock, logger: Logger(label: "test")) { await runner.run($0) }
    }

    @Test("a new plan waits for its next slot; a due slot runs once; a restarted scheduler does not repeat it")
    func dueAndRestart() async throws {
        let (folder, catalog, clock, runner) = try fixture()
        defer { folder.remove() }
        let first = scheduler(catalog, clock, runner)
        first.setPlans([try plan("hourly")])
        #expect(first.tick().isEmpty)
        clock.set("2026-11-26T10:59:59Z")
        #expect(first.tick().isEmpty)
        clock.set("2026-11-26T11:00:03Z")
        #expect(first.tick() == ["hourly"])
        await first.waitForRuns()
        clock.set("2026-11-26T11:00:40Z")
        #expect(first.tick().isEmpty)

        let restarted = scheduler(catalog, clock, runner)
        restarted.setPlans([try plan("hourly")])
        #expect(restarted.tick().isEmpty)
        #expect(runner.count == 1)
        #expect(try catalog.scheduleState(plan: "hourly")?.nextFire == ISO8601DateFormatter().date(from: "2026-11-26T12:00:00Z"))
    }

    @Test("after downtime: run-once runs one catch-up run for many missed slots; skip runs none")
    func catchUp() async throws {
        let (folder, catalog, clock, runner) = try fixture()
        defer { folder.remove() }
        let scheduler = scheduler(catalog, clock, runner)
        scheduler.setPlans([try plan("once"), try plan("skipper", missed: .skip)])
        scheduler.tick()
        clock.set("2026-11-26T15:10:00Z")  // 11:00 to 15:00 missed while the daemon was down
        #expect(scheduler.tick() == ["once"])
        await scheduler.waitForRuns()
        #expect(scheduler.tick().isEmpty)
        clock.set("2026-11-26T16:00:01Z")  // on time again: both run
        #expect(scheduler.tick() == ["once", "skipper"])
        await scheduler.waitForRuns()
        #expect(runner.started.withLock { $0 } == ["once", "once", "skipper"])
    }

    @Test("overlap: forbid passes a slot over while the plan runs; queue runs it once afterwards")
    func overlap() async throws {
        let (folder, catalog, clock, runner) = try fixture()
        defer { folder.remove() }
        let scheduler = scheduler(catalog, clock, runner)
        scheduler.setPlans([try plan("forbid"), try plan("queue", overlap: .queue)])
        scheduler.tick()
        runner.holding.store(true, ordering: .relaxed)
        clock.set("2026-11-26T11:00:00Z")
        #expect(scheduler.tick() == ["forbid", "queue"])
        #expect(await eventually(120) { runner.count == 2 })
        clock.set("2026-11-26T12:00:00Z")
        #expect(scheduler.tick().isEmpty)
        #expect(scheduler.runningPlans == ["forbid", "queue"])
        runner.release()
        #expect(await eventually(120) { runner.count == 3 })
        await scheduler.waitForRuns()
        #expect(runner.started.withLock { $0 }.sorted() == ["forbid", "queue", "queue"])
    }
}

@Suite("The scheduler's shutdown")
struct SchedulerShutdownTests {
    @Test("drain waits for a run that ends within the grace period, and cancels one that does not")
    func drain() async throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let catalog = try Catalog(state: StateDirectory(path: folder.file("state")))
        let clock = ManualClock("2026-11-26T10:30:00Z")
        let outcomes = Mutex<[String: String]>([:])
        let scheduler = Scheduler(catalog: catalog, clock: clock, logger: Logger(label: "test")) { plan in
            // Generous margins: a busy test machine can hold up the concurrency pool for seconds.
            let seconds = plan.name == "quick" ? 0.05 : 3600
            do {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                outcomes.withLock { $0[plan.name] = "finished" }
            } catch {
                outcomes.withLock { $0[plan.name] = "cancelled" }
            }
        }
        let hourly = Schedule(cron: try CronExpression(parsing: "0 * * * *"), timeZone: "UTC")
        // A run that ends within the grace period is waited for (the grace is long: a busy machine is slow).
        scheduler.setPlans([Plan(name: "quick", kind: .backup, schedule: hourly, steps: [])])
        scheduler.tick()
        clock.set("2026-11-26T11:00:00Z")
        #expect(scheduler.tick() == ["quick"])
        await scheduler.drain(grace: .seconds(60))
        #expect(outcomes.withLock { $0["quick"] } == "finished")
        // One that does not is cancelled when the grace period ends.
        scheduler.setPlans([Plan(name: "slow", kind: .backup, schedule: hourly, steps: [])])
        scheduler.tick()
        clock.set("2026-11-26T12:00:00Z")
        #expect(scheduler.tick() == ["slow"])
        await scheduler.drain(grace: .milliseconds(500))
        #expect(outcomes.withLock { $0["slow"] } == "cancelled")
        #expect(scheduler.runningPlans.isEmpty)
    }
}
