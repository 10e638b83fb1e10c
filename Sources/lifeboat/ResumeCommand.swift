import ArgumentParser
import Engine
import Foundation
import Logging
import Plans

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue a failed, cancelled or interrupted run from its first step that did not succeed.",
        discussion: """
            The run keeps its id: steps that succeeded are not run again, the others run with the same plan file \
            (refused if the file changed since, because the steps may no longer be the same). Exit codes as `run`.
            """
    )

    @Argument(help: "The run id (or a unique beginning of it).")
    var runId: String

    @OptionGroup var state: StateOptions

    @Option(help: "Use this inventory instead of the plan's (default: $LIFEBOAT_INVENTORY, else the plan's own).")
    var inventory: String?

    @Flag(name: .shortAndLong, help: "Approve every approval gate without asking.")
    var yes = false

    @Flag(name: .customLong("step-by-step"), help: "Ask before each step.")
    var stepByStep = false

    func run() async throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let (record, steps) = try catalog.run(runId)
        guard [.failed, .cancelled, .interrupted].contains(record.status) else {
            throw LifeboatError(.invalidInput, "run \(record.id) is \(record.status.rawValue); only failed, cancelled or "
                + "interrupted runs can be resumed")
        }
        let result = PlanFiles.load(record.planFile, inventory: inventory)
        let plan = try result.get()
        guard plan.digest == record.planDigest else {
            throw LifeboatError(.invalidInput, "\(record.planFile) changed since run \(record.id) (sha256 \(plan.digest.prefix(12)) "
                + "instead of \(record.planDigest.prefix(12))); resuming would run other steps",
                hint: "start a new run with `lifeboat run \(record.planFile)`")
        }
        let done = steps.filter { $0.phase == .main && $0.status == .succeeded }.map(\.stepId)
        Console.out("resuming run \(record.id) of plan '\(plan.name)'"
            + (done.isEmpty ? "" : "; already done: \(done.joined(separator: ", "))"))
        var options = RunOptions()
        options.interaction = Interaction(assumeYes: yes)
        options.observer = Progress.print
        options.resume = (record, steps)
        if stepByStep { options.beforeStep = FailoverCommand.askBeforeStep }
        try await RunExecution.execute(plan, options: options, catalog: catalog)
    }
}

struct FailoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Run a failover plan: shows it, asks for confirmation, then runs it with a line per step.",
        discussion: """
            --yes skips the confirmation (and approves approval gates); --step-by-step asks before every step. If a \
            step fails, the plan stops and says so; fix the cause and continue with `lifeboat resume RUN`. The \
            incident timeline for the post-mortem: `lifeboat runs show RUN --timeline`.
            """
    )

    @Argument(help: "The failover plan file.")
    var file: String

    @OptionGroup var state: StateOptions

    @Option(help: "Use this inventory instead of the plan's (default: $LIFEBOAT_INVENTORY, else the plan's own).")
    var inventory: String?

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation; approve approval gates.")
    var yes = false

    @Flag(name: .customLong("step-by-step"), help: "Ask before each step.")
    var stepByStep = false

    @Flag(help: "A drill: run the plan against a scratch primary and standby (restored from the newest backup), never production.")
    var drill = false

    @Option(name: .customLong("repo"), help: "With --drill: the inventory repository that holds the primary's backups.")
    var repository: String?

    func run() async throws {
        var plan = try PlanFiles.load(file, inventory: inventory).get()
        var scratch: FailoverDrill?
        defer { scratch?.cleanUp() }
        if drill {
            Console.out("failover drill: restoring a scratch primary and cloning a scratch standby...")
            let prepared = try FailoverDrill.prepare(plan, repository: repository,
                                                     secrets: SecretResolver(environment: ProcessInfo.processInfo.environment,
                                                                             redactor: Redactor()))
            scratch = prepared
            plan = prepared.plan
            let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
            var options = RunOptions()
            options.interaction = Interaction(assumeYes: true)
            options.observer = Progress.print
            try await RunExecution.execute(plan, options: options, catalog: catalog)
            return
        }
        if plan.kind != .failover { Console.warning("\(file) is a \(plan.kind.rawValue) plan, not a failover plan") }
        Console.out(PlanDescription(plan, maxParallel: nil).text)
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                throw LifeboatError(.invalidInput, "a failover needs a confirmation, and there is no terminal",
                                    hint: "run it in a terminal, or pass --yes")
            }
            FileHandle.standardError.write(Data("\nThis is a REAL failover of plan '\(plan.name)'. Type yes to start: ".utf8))
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased()
            guard answer == "yes" else {
                Console.error("not started (answer: \(answer ?? "end of input"))")
                throw ExitCode(ExitCodes.runFailed)
            }
        }
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        var options = RunOptions()
        options.interaction = Interaction(assumeYes: yes)
        options.observer = Progress.print
        if stepByStep { options.beforeStep = Self.askBeforeStep }
        try await RunExecution.execute(plan, options: options, catalog: catalog)
    }

    /// `--step-by-step`: asks on the terminal before each step.
    static let askBeforeStep: @Sendable (Step) async -> Bool = { step in
        FileHandle.standardError.write(Data("next: \(step.id) (\(step.uses)). Run it? [yes/no] ".utf8))
        let answer = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: readLine()) }.start()
        }
        return ["yes", "y"].contains(answer?.trimmingCharacters(in: .whitespaces).lowercased() ?? "")
    }
}
