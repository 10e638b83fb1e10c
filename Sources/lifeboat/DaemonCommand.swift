import ArgumentParser
import Engine
import Foundation
import Logging
import Plans
import ServiceLifecycle
import LifeboatCore

struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Run every scheduled plan of a folder on time.",
        discussion: """
            Runs each plan when its schedule says (trigger recorded as daemon), remembers the last time of each in \
            the catalog (a restart neither repeats nor forgets a run), reloads the plans on SIGHUP (a plan that no \
            longer loads keeps its previous version), and on SIGTERM stops starting runs, waits up to --grace for \
            running ones, then cancels them. One daemon per state directory (exit 11 if one is running). Logs go \
            to standard error.
            """
    )

    @Option(help: "The plans folder (default: $LIFEBOAT_PLANS, else /etc/lifeboat/plans).")
    var plans: String?

    @OptionGroup var state: StateOptions

    @Option(help: "How long SIGTERM waits for running plans before cancelling them.")
    var grace: String = "10m"

    @Option(help: "Serve /metrics (Prometheus) and /healthz on HOST:PORT; `off` serves nothing.")
    var metrics: String = "127.0.0.1:9732"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "notice"

    func validate() throws {
        guard PlanDuration(parsing: grace) != nil else { throw ValidationError("--grace: cannot read '\(grace)' (e.g. 10m)") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: unknown level '\(logLevel)'") }
        guard metrics == "off" || metricsAddress != nil else { throw ValidationError("--metrics: use HOST:PORT or off") }
    }

    var metricsAddress: (String, Int)? {
        guard metrics != "off", let colon = metrics.lastIndex(of: ":"), let port = Int(metrics[metrics.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        return (String(metrics[..<colon]), port)
    }

    func run() async throws {
        let stateDirectory = StateDirectory.resolve(explicit: state.stateDir)
        let catalog = try Catalog(state: stateDirectory)
        let lock: PlanLock
        do {
            lock = try PlanLock.acquire(plan: "lifeboat-daemon", in: stateDirectory)
        } catch let error as LifeboatError where error.code == .locked {
            throw LifeboatError(.locked, "a Lifeboat daemon already runs on \(stateDirectory.path)", hint: error.hint)
        }
        defer { withExtendedLifetime(lock) {} }
        var configured = Logger(label: "lifeboat.daemon") { StreamLogHandler.standardError(label: $0) }
        configured.logLevel = Logger.Level(rawValue: logLevel)!
        let logger = configured
        let folder = PlanDirectory.resolve(plans)
        let scheduler = Scheduler(catalog: catalog, logger: logger) { plan in
            var options = RunOptions()
            options.trigger = .daemon
            options.interaction = Interaction(assumeYes: false, isTerminal: false)
            do {
                let outcome = try await PlanRunner(catalog: catalog).run(plan, options: options)
                let why = outcome.run.error.map { ": \($0)" } ?? ""
                logger.notice("\(plan.name): run \(outcome.run.id) \(outcome.run.status.rawValue)\(why)")
            } catch {
                logger.error("\(plan.name): the run could not start: \(error)")
            }
        }
        let watch = RPOWatch(catalog: catalog, plansFolder: folder, logger: logger)
        let gauges = DaemonMetrics(catalog: catalog, plansFolder: folder)
        let service = DaemonService(scheduler: scheduler, folder: folder,
                                    grace: .milliseconds(PlanDuration(parsing: grace)!.milliseconds), logger: logger,
                                    everyMinute: {
                                        await watch.check()
                                        gauges.refresh()
                                    })
        var services: [any Service] = [service]
        if let (host, port) = metricsAddress {
            var quiet = logger
            quiet.logLevel = .warning
            services.append(MetricsEndpoint.application(metrics: gauges, host: host, port: port, logger: quiet))
            logger.notice("metrics on http://\(host):\(port)/metrics")
        }
        logger.notice("daemon started on \(stateDirectory.path) with plans from \(folder)")
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
