import ArgumentParser
import Engine
import Foundation
import Plans
import LifeboatCore

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

    @OptionGroup var common: InteractiveRunOptions

    @Flag(help: "A drill: run the plan against a scratch primary and standby (restored from the newest backup), never production.")
    var drill = false

    @Option(name: .customLong("repo"), help: "With --drill: the inventory repository that holds the primary's backups.")
    var repository: String?

    func run() async throws {
        var plan = try PlanFiles.load(file, inventory: common.inventory).get()
        var scratch: FailoverDrill?
        defer { scratch?.cleanUp() }
        if drill {
            Console.out("failover drill: restoring a scratch primary and cloning a scratch standby...")
            let prepared = try FailoverDrill.prepare(plan, repository: repository,
                                                     secrets: SecretResolver(environment: ProcessInfo.processInfo.environment,
                                                                             redactor: Redactor()))
            scratch = prepared
            plan = prepared.plan
            let catalog = try Catalog(state: StateDirectory.resolve(explicit: common.state.stateDir))
            var options = RunOptions()
            options.interaction = Interaction(assumeYes: true)
            options.observer = Progress.print
            try await RunExecution.execute(plan, options: options, catalog: catalog)
            return
        }
        if plan.kind != .failover { Console.warning("\(file) is a \(plan.kind.rawValue) plan, not a failover plan") }
        Console.out(PlanDescription(plan, maxParallel: nil).text)
        if !common.yes {
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
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: common.state.stateDir))
        try await RunExecution.execute(plan, options: common.runOptions, catalog: catalog)
    }
}
