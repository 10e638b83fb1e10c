import ArgumentParser
import Dispatch
import Engine
import Repository
import Foundation
import Logging
import Plans

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a plan.",
        discussion: """
            Prints nothing when the run succeeds (use --verbose for progress); on failure prints which step failed, \
            why, and where the log is, and exits 1. SIGINT or SIGTERM cancels the run: running steps are stopped, \
            the run is recorded as cancelled, and the exit code is 130. Exit 11 means the plan is already running.
            Drills (kind: drill) print their verdict and the report's path; a failed drill (a check failed, a \
            target missed) exits 4. Their scratch servers are stopped and removed at the end, unless --keep.
            """
    )

    @Argument(help: "The plan file.")
    var file: String

    @OptionGroup var state: StateOptions

    @Option(help: "Use this inventory instead of the plan's (default: $LIFEBOAT_INVENTORY, else the plan's own).")
    var inventory: String?

    @Flag(name: .shortAndLong, help: "Print a line for every step as it starts and ends.")
    var verbose = false

    @Flag(name: .customLong("dry-run"), help: "Check the plan and print what would run; run nothing, read no secret.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "Approve every approval gate without asking.")
    var yes = false

    @Option(help: "How many steps may run at once (default: the plan's concurrency, else 4).")
    var parallel: Int?

    @Flag(help: "Drills: leave the scratch servers running and print how to connect (remove them yourself).")
    var keep = false

    @Option(name: .customLong("report-dir"), help: "Drills: also write the report (JSON, Markdown, HTML) into this folder.")
    var reportDirectory: String?

    @Option(help: "What started this run: cli, cron or daemon (recorded in the catalog).")
    var trigger: String = "cli"

    @Option(name: .customLong("log-level"),
            help: "Log lines at this level and above also go to standard error: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "warning"

    func validate() throws {
        guard RunTrigger(rawValue: trigger) != nil else {
            throw ValidationError("--trigger must be cli, cron or daemon")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let parallel, parallel < 1 { throw ValidationError("--parallel must be at least 1") }
    }

    func run() async throws {
        let result = PlanFiles.load(file, inventory: inventory)
        let plan = try result.get()
        Console.diagnostics(result.warnings)

        if dryRun {
            Console.out(PlanDescription(plan, maxParallel: parallel).text)
            Console.out("\ndry run: nothing was run and no secret was read.")
            return
        }

        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        var options = RunOptions()
        options.trigger = RunTrigger(rawValue: trigger)!
        options.interaction = Interaction(assumeYes: yes)
        options.maxParallel = parallel
        options.stderrLevel = Logger.Level(rawValue: logLevel)!
        if verbose { options.observer = Progress.print }
        options.keepScratch = keep
        options.reportDirectory = reportDirectory.map { Paths.absolute($0) }

        try await RunExecution.execute(plan, options: options, catalog: catalog)
    }
}
