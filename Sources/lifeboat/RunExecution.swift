import ArgumentParser
import Engine
import Foundation
import Plans
import LifeboatCore

/// Runs a plan (for `run`, `resume` and `failover`) and turns its outcome into output and an exit code.
enum RunExecution {
    static func execute(_ plan: Plan, options: RunOptions, catalog: Catalog) async throws {
        let runner = PlanRunner(catalog: catalog)
        let task = Task { try await runner.run(plan, options: options) }
        let signals = SignalCancellation(cancelling: task)
        defer { signals.stop() }
        let outcome = try await task.value
        for delivery in outcome.deliveries where !delivery.delivered {
            Console.warning("channel '\(delivery.channel)' was not notified of \(delivery.event) after \(delivery.attempts) "
                + "attempt\(delivery.attempts == 1 ? "" : "s"): \(delivery.error ?? "unknown error")")
        }
        for server in outcome.keptServers {
            Console.out("kept the scratch server of step '\(server.step)': psql '\(server.conninfo)'")
            Console.out("  remove it when done: pg_ctl -D \(server.folder)/pgdata stop && rm -rf \(server.folder)")
        }
        if let report = outcome.report {
            try finishDrill(report, outcome: outcome, plan: plan)
            return
        }

        switch outcome.run.status {
        case .succeeded:
            for step in outcome.steps where step.ignoredFailure {
                Console.warning("step '\(step.stepId)' failed, and the plan let the run go on: \(step.error ?? "")")
            }
        case .cancelled:
            Console.error("run \(outcome.run.id) of plan '\(plan.name)' was cancelled")
            Console.hint("log: \(outcome.run.logFile); details: lifeboat runs show \(outcome.run.id)")
            throw ExitCode(ExitCodes.cancelled)
        default:
            let why = outcome.failedStep.map { "step '\($0.stepId)' failed: \($0.error ?? "unknown error")" }
                ?? outcome.run.error ?? "unknown error"
            Console.error("run \(outcome.run.id) of plan '\(plan.name)' failed: \(why)")
            Console.hint("log: \(outcome.run.logFile); details: lifeboat runs show \(outcome.run.id)")
            throw ExitCode(ExitCodes.runFailed)
        }
        }

    /// A drill's verdict in a few lines, the report's path, and exit 4 when it failed.
    static func finishDrill(_ report: DrillReport, outcome: RunOutcome, plan: Plan) throws {
        func objective(_ name: String, _ value: DrillReport.Objective) -> String {
            "\(name) \(value.measuredSeconds.map { Formatted.duration($0) } ?? "not measured")"
                + (value.targetSeconds.map { " (target \(Formatted.duration($0)), \(value.verdict.shown))" } ?? "")
        }
        let markdown = outcome.reportFiles.first { $0.hasSuffix(".md") }
        let line = "drill \(report.passed ? "PASSED" : "FAILED"): \(objective("RPO", report.rpo)), \(objective("RTO", report.rto))"
        if report.passed { Console.out(line) } else { Console.error(line) }
        for reason in report.reasons { Console.error("  \(reason)") }
        for warning in report.warnings { Console.warning(warning) }
        Console.out("report: \(markdown ?? "(not written; see the log)")")
        if outcome.run.status == .cancelled {
            Console.hint("log: \(outcome.run.logFile); details: lifeboat runs show \(outcome.run.id)")
            throw ExitCode(ExitCodes.cancelled)
        }
        if !report.passed {
            Console.hint("log: \(outcome.run.logFile); runbook: runbooks/drill-failed.md")
            throw ExitCode(ExitCodes.drillFailed)
        }
    }
}
