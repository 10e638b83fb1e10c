import Foundation
import Logging
import Plans
import Synchronization

/// The clock the scheduler reads and waits on; tests drive their own.
public protocol SchedulerClock: Sendable {
    var now: Date { get }
    func sleep(until: Date) async throws
}

public struct SystemClock: SchedulerClock {
    public init() {}
    public var now: Date { Date() }
    public func sleep(until date: Date) async throws {
        let seconds = date.timeIntervalSinceNow
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64(seconds * 1000))) }
    }
}

/// Decides when each scheduled plan runs, and runs it.
///
/// Rules, per plan (its cron expression read in its time zone, see `CronExpression.nextFire`):
/// - a slot is due when it has come; the slot is recorded as fired *before* the run starts;
/// - after downtime (a due slot more than `lateness` old), `missed: run-once` runs once and `skip` does not; either
///   way every missed slot is passed over — never one run per missed slot;
/// - a plan seen for the first time starts with the next slot (no catch-up for history it never had);
/// - while its previous run goes on, `overlap: forbid` passes the slot over and `queue` runs it once afterwards;
/// - `jitter` delays each start by a random time up to its length.
public final class Scheduler: Sendable {
    public typealias Runner = @Sendable (Plan) async -> Void

    let catalog: Catalog
    let clock: any SchedulerClock
    let runner: Runner
    let logger: Logger
    /// A slot older than this when noticed counts as missed (the daemon was down).
    let lateness: TimeInterval

    private struct State {
        var plans: [String: Plan] = [:]
        var running: [String: Task<Void, Never>] = [:]
        var queued: Set<String> = []
    }

    private let state = Mutex(State())

    public init(catalog: Catalog, clock: any SchedulerClock = SystemClock(), lateness: TimeInterval = 120,
                logger: Logger, runner: @escaping Runner) {
        self.catalog = catalog
        self.clock = clock
        self.lateness = lateness
        self.logger = logger
        self.runner = runner
    }

    /// Replaces the plans (by name). Plans whose files no longer load are kept in their last good version by the
    /// caller (see `PlanDirectory`).
    public func setPlans(_ plans: [Plan]) {
        state.withLock { state in
            state.plans = Dictionary(plans.filter { $0.schedule != nil }.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        }
    }

    public var planNames: [String] { state.withLock { $0.plans.keys.sorted() } }
    public var plans: [Plan] { state.withLock { Array($0.plans.values) } }
    public var runningPlans: [String] { state.withLock { $0.running.keys.sorted() } }

    /// Starts the runs that are due now; returns the names of the plans started.
    @discardableResult
    public func tick() -> [String] {
        let now = clock.now
        var started: [String] = []
        for plan in state.withLock({ Array($0.plans.values) }).sorted(by: { $0.name < $1.name }) {
            guard let schedule = plan.schedule else { continue }
            let zone = schedule.zone
            let record = (try? catalog.scheduleState(plan: plan.name)) ?? nil
            guard let record else {
                // First sight: begin with the next slot.
                save(plan.name, lastFire: now, next: schedule.cron.nextFire(after: now, in: zone))
                continue
            }
            guard let due = schedule.cron.nextFire(after: record.lastFire, in: zone), due <= now else { continue }
            // Pass over every slot that has come; run at most once.
            var latest = due
            while let following = schedule.cron.nextFire(after: latest, in: zone), following <= now { latest = following }
            let missed = now.timeIntervalSince(due) > lateness
            save(plan.name, lastFire: latest, next: schedule.cron.nextFire(after: latest, in: zone))
            if missed && schedule.missed == .skip {
                logger.notice("\(plan.name): skipped the slot(s) missed since \(due) (missed: skip)")
                continue
            }
            if missed { logger.notice("\(plan.name): one catch-up run for the slot(s) missed since \(due)") }
            if start(plan, jitter: schedule.jitter) { started.append(plan.name) }
        }
        return started
    }

    /// The earliest next slot of any plan (the daemon sleeps until then, at most a minute).
    public func nextWake() -> Date {
        let now = clock.now
        var earliest = now.addingTimeInterval(60)
        for plan in state.withLock({ Array($0.plans.values) }) {
            guard let schedule = plan.schedule else { continue }
            let last = ((try? catalog.scheduleState(plan: plan.name)) ?? nil)?.lastFire ?? now
            if let next = schedule.cron.nextFire(after: last, in: schedule.zone), next < earliest { earliest = next }
        }
        return max(earliest, now.addingTimeInterval(0.2))
    }

    /// Waits for running plans up to `grace`, then cancels what is left (runs record themselves as cancelled).
    public func drain(grace: Duration) async {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.queued.removeAll()
            return Array(state.running.values)
        }
        guard !tasks.isEmpty else { return }
        logger.notice("waiting up to \(grace) for \(tasks.count) running plan(s)")
        // Polled: awaiting an unstructured task's value cannot be interrupted when the grace period ends.
        let deadline = ContinuousClock.now + grace
        while !state.withLock({ $0.running.isEmpty }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let left = state.withLock { Array($0.running.values) }
        if !left.isEmpty {
            logger.warning("grace period over: cancelling \(left.count) running plan(s)")
            for task in left { task.cancel() }
            for task in left { await task.value }
        }
    }

    /// Waits until no plan is running (tests).
    public func waitForRuns() async {
        while let task = state.withLock({ $0.running.values.first }) { await task.value }
    }

    private func start(_ plan: Plan, jitter: PlanDuration?) -> Bool {
        let runner = self.runner
        let delay = jitter.map { Double.random(in: 0...(Double($0.milliseconds) / 1000)) } ?? 0
        return state.withLock { state in
            guard state.running[plan.name] == nil else {
                if plan.schedule?.overlap == .queue {
                    state.queued.insert(plan.name)
                    logger.notice("\(plan.name): still running; this slot runs when it ends (overlap: queue)")
                } else {
                    logger.notice("\(plan.name): still running; this slot is skipped (overlap: forbid)")
                }
                return false
            }
            // Created under the lock: the run cannot end before it is registered as running.
            state.running[plan.name] = Task { [weak self] in
                if delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
                if !Task.isCancelled { await runner(plan) }
                self?.finished(plan)
            }
            return true
        }
    }

    private func finished(_ plan: Plan) {
        let again = state.withLock { state -> Bool in
            state.running[plan.name] = nil
            return state.queued.remove(plan.name) != nil
        }
        if again, let current = state.withLock({ $0.plans[plan.name] }) { _ = start(current, jitter: nil) }
    }

    private func save(_ plan: String, lastFire: Date, next: Date?) {
        do {
            try catalog.save(ScheduleStateRecord(plan: plan, lastFire: lastFire, nextFire: next, updatedAt: clock.now))
        } catch {
            logger.error("cannot record the schedule of \(plan): \(error)")
        }
    }
}
