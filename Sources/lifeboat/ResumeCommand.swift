import ArgumentParser
import Engine
import Foundation
import Logging
import Plans
import LifeboatCore

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

    @OptionGroup var common: InteractiveRunOptions

    func run() async throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: common.state.stateDir))
        let (record, steps) = try catalog.run(runId)
        guard [.failed, .cancelled, .interrupted].contains(record.status) else {
            throw LifeboatError(.invalidInput, "run \(record.id) is \(record.status.rawValue); only failed, cancelled or "
                + "interrupted runs can be resumed")
        }
        let result = PlanFiles.load(record.planFile, inventory: common.inventory)
        let plan = try result.get()
        guard plan.digest == record.planDigest else {
            throw LifeboatError(.invalidInput, "\(record.planFile) changed since run \(record.id) (sha256 \(plan.digest.prefix(12)) "
                + "instead of \(record.planDigest.prefix(12))); resuming would run other steps",
                hint: "start a new run with `lifeboat run \(record.planFile)`")
        }
        let done = steps.filter { $0.phase == .main && $0.status == .succeeded }.map(\.stepId)
        Console.out("resuming run \(record.id) of plan '\(plan.name)'"
            + (done.isEmpty ? "" : "; already done: \(done.joined(separator: ", "))"))
        var options = common.runOptions
        options.resume = (record, steps)
        try await RunExecution.execute(plan, options: options, catalog: catalog)
    }
}

/// What `failover` and `resume` share: state, inventory, and how a person takes part.
struct InteractiveRunOptions: ParsableArguments {
    @OptionGroup var state: StateOptions

    @Option(help: "Use this inventory instead of the plan's (default: $LIFEBOAT_INVENTORY, else the plan's own).")
    var inventory: String?

    @Flag(name: .shortAndLong, help: "Do not ask for confirmation; approve approval gates.")
    var yes = false

    @Flag(name: .customLong("step-by-step"), help: "Ask before each step.")
    var stepByStep = false

    /// A line per step, approvals per `--yes`, `--step-by-step` asking before each step.
    var runOptions: RunOptions {
        var options = RunOptions()
        options.interaction = Interaction(assumeYes: yes)
        options.observer = Progress.print
        if stepByStep { options.beforeStep = Self.askBeforeStep }
        return options
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
