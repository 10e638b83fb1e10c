import Foundation
import Logging
import Plans
import ServiceLifecycle
import UnixSignals

/// `lifeboat daemon`: the scheduler as a service. SIGHUP reloads the plans (a plan that no longer loads keeps its
/// previous version, and the problem is logged); SIGTERM/SIGINT stop scheduling, wait for running plans up to the
/// grace period, then cancel them (they are recorded as cancelled).
public struct DaemonService: Service {
    let scheduler: Scheduler
    let folder: String
    let grace: Duration
    let logger: Logger
    let clock: any SchedulerClock
    /// Called about once a minute (the RPO watch).
    let everyMinute: (@Sendable () async -> Void)?

    public init(scheduler: Scheduler, folder: String, grace: Duration, logger: Logger,
                clock: any SchedulerClock = SystemClock(), everyMinute: (@Sendable () async -> Void)? = nil) {
        self.scheduler = scheduler
        self.folder = folder
        self.grace = grace
        self.logger = logger
        self.clock = clock
        self.everyMinute = everyMinute
    }

    /// Loads the folder's plans; a plan whose file does not load keeps its current version.
    public func reload() {
        do {
            let directory = try PlanDirectory.load(folder)
            var plans = Dictionary(directory.scheduled.map { ($0.file, $0) }, uniquingKeysWith: { $1 })
            for (file, diagnostics) in directory.broken {
                let problems = diagnostics.filter { $0.severity == .error }.map(\.description).joined(separator: "; ")
                if let kept = scheduler.plans.first(where: { $0.file == file }) {
                    plans[file] = kept
                    logger.error("\(file) does not load, keeping its previous version (plan \(kept.name)): \(problems)")
                } else {
                    logger.error("\(file) does not load and is not scheduled: \(problems)")
                }
            }
            scheduler.setPlans(Array(plans.values))
            logger.notice("plans loaded from \(folder): \(scheduler.planNames.joined(separator: ", "))")
        } catch {
            logger.error("cannot read the plans folder \(folder): \(error); keeping the plans loaded before")
        }
    }

    public func run() async throws {
        reload()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    logger.notice("SIGHUP: reloading plans")
                    reload()
                }
            }
            if let everyMinute {
                group.addTask {
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        await everyMinute()
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(60)) }
                    }
                }
            }
            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                scheduler.tick()
                let wake = scheduler.nextWake()
                try? await cancelWhenGracefulShutdown { try await clock.sleep(until: wake) }
            }
            logger.notice("shutting down: no new runs")
            await scheduler.drain(grace: grace)
            group.cancelAll()
        }
        logger.notice("stopped")
    }
}
