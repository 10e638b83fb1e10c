import ArgumentParser
import Engine
import Foundation
import LifeboatCore

struct DrillsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drills",
        abstract: "List recorded drills and show their reports.",
        subcommands: [DrillsListCommand.self, DrillsShowCommand.self]
    )
}

struct DrillsListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List drills, newest first.")

    @OptionGroup var state: StateOptions

    @Option(help: "At most this many drills.")
    var limit: Int = 20

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let drills = try catalog.drills(limit: limit)
        if json {
            struct Row: Encodable {
                var runId, plan, verdict: String
                var startedAt: Date
                var databases: [String]
                var rpoSeconds, rtoSeconds, projectedRtoSeconds: Double?
            }
            try Console.json(drills.map {
                Row(runId: $0.runId, plan: $0.plan, verdict: $0.verdict, startedAt: $0.startedAt,
                    databases: $0.databases.split(separator: ",").map(String.init), rpoSeconds: $0.rpoSeconds,
                    rtoSeconds: $0.rtoSeconds, projectedRtoSeconds: $0.projectedRTOSeconds)
            })
            return
        }
        guard !drills.isEmpty else {
            Console.out("no drills recorded in \(catalog.state.catalogPath)")
            return
        }
        Console.out(Console.table(
            ["RUN", "PLAN", "STARTED (UTC)", "VERDICT", "DATABASES", "RPO", "RTO"],
            drills.map { drill in
                [drill.runId, drill.plan, Formatted.timestamp(drill.startedAt), drill.verdict.uppercased(), drill.databases,
                 drill.rpoSeconds.map { Formatted.duration($0) } ?? "-", drill.rtoSeconds.map { Formatted.duration($0) } ?? "-"]
            }))
    }
}

struct DrillsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a drill's report.")

    @Argument(help: "The drill's run id (or its unique beginning).")
    var id: String

    @OptionGroup var state: StateOptions

    @Option(help: "md (default), json or html.")
    var format: String = "md"

    func validate() throws {
        guard ["md", "json", "html"].contains(format) else { throw ValidationError("--format must be md, json or html") }
    }

    func run() throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let report = try catalog.drill(id).decodedReport()
        switch format {
        case "json": Console.out(report.json)
        case "html": Console.out(report.html)
        default: Console.out(report.markdown)
        }
    }
}
