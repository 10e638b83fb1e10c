import ArgumentParser
import Engine
import Foundation
import LifeboatCore

struct RunsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List runs, newest first.")

    @OptionGroup var state: StateOptions

    @Option(help: "Only runs of this plan.")
    var plan: String?

    @Option(help: "At most this many runs.")
    var limit: Int = 20

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let runs = try catalog.runs(plan: plan, limit: limit)
        if json {
            try Console.json(runs)
            return
        }
        guard !runs.isEmpty else {
            Console.out("no runs recorded in \(catalog.state.catalogPath)")
            return
        }
        Console.out(Console.table(
            ["RUN", "PLAN", "KIND", "STATUS", "STARTED (UTC)", "DURATION", "TRIGGER"],
            runs.map { run in
                [run.id, run.plan, run.kind, run.status.rawValue, Formatted.timestamp(run.startedAt),
                 run.status == .interrupted && run.endedAt == nil ? "-" : Formatted.duration(run.duration()),
                 run.trigger.rawValue]
            }))
    }
}
