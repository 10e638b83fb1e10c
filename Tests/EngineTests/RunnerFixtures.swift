import Engine
import Foundation
import Plans
import TestSupport
import Testing

/// A state directory and a folder for plans, removed at the end.
final class RunnerBench: Sendable {
    let folder: TemporaryDirectory
    let catalog: Catalog

    init() throws {
        folder = try TemporaryDirectory(prefix: "lifeboat-engine")
        catalog = try Catalog(state: StateDirectory(path: folder.file("state")))
    }

    deinit { folder.remove() }

    /// Writes `yaml` as a plan file and loads it the way the CLI does.
    func plan(_ yaml: String, name: String = "plan.yaml") throws -> Plan {
        let file = try folder.write(name, yaml)
        return try PlanFiles.load(file).get()
    }

    func run(_ plan: Plan, configure: (inout RunOptions) -> Void = { _ in }) async throws -> RunOutcome {
        var options = RunOptions()
        options.interaction = Interaction(assumeYes: false, isTerminal: false)
        options.stderrLevel = .critical
        configure(&options)
        return try await PlanRunner(catalog: catalog).run(plan, options: options)
    }

    /// A shell snippet for an exec step's command list.
    func sh(_ script: String) -> String {
        "[sh, -c, \(yamlQuote(script))]"
    }

    func read(_ name: String) -> String {
        (try? String(contentsOfFile: folder.file(name), encoding: .utf8)) ?? ""
    }
}

func yamlQuote(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}

extension RunOutcome {
    func step(_ id: String) -> StepRecord? { steps.first { $0.stepId == id } }
}
