import ArgumentParser
import Engine
import Foundation
import LifeboatCore

struct RunsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one run and its steps.")

    @OptionGroup var state: StateOptions

    @Argument(help: "The run id (or a unique beginning of it).")
    var runId: String

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Print the incident timeline: every step, approval and notification in time order (UTC).")
    var timeline = false

    struct Details: Encodable {
        var run: RunRecord
        var steps: [StepRecord]
        var notifications: [DeliveryRecord]
    }

    func run() throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let (run, steps) = try catalog.run(runId)
        let deliveries = try catalog.deliveries(run: run.id)
        if timeline {
            Console.out(Self.timeline(run: run, steps: steps, deliveries: deliveries))
            return
        }
        if json {
            try Console.json(Details(run: run, steps: steps, notifications: deliveries))
            return
        }
        var lines = [
            "run      \(run.id)",
            "plan     \(run.plan) (\(run.kind))  file \(run.planFile)  sha256 \(run.planDigest.prefix(12))",
            "status   \(run.status.rawValue)" + (run.error.map { ": \($0)" } ?? ""),
            "started  \(Formatted.timestamp(run.startedAt)) by \(run.osUser) on \(run.host) via \(run.trigger.rawValue) (pid \(run.pid))",
            "ended    \(Formatted.timestamp(run.endedAt))" + (run.endedAt == nil ? "" : "  (\(Formatted.duration(run.duration())))"),
            "log      \(run.logFile)",
            "",
        ]
        lines.append(Console.table(
            ["STEP", "PHASE", "USES", "STATUS", "ATTEMPTS", "DURATION"],
            steps.map { step in
                var elapsed = step.startedAt.map { Formatted.duration((step.endedAt ?? Date()).timeIntervalSince($0)) } ?? "-"
                if step.endedAt == nil && step.status != .running { elapsed = "-" }
                return [step.stepId, step.phase.rawValue, step.uses,
                        step.status.rawValue + (step.ignoredFailure ? " (ignored)" : ""), String(step.attempts), elapsed]
            }))
        for step in steps where step.error != nil || step.outputTail != nil {
            lines.append("")
            lines.append("[\(step.stepId)] \(step.status.rawValue)" + (step.error.map { ": \($0)" } ?? ""))
            if let tail = step.outputTail {
                lines.append(contentsOf: tail.split(separator: "\n", omittingEmptySubsequences: false).suffix(20).map { "  | \($0)" })
            }
        }
        if !deliveries.isEmpty {
            lines.append("")
            lines.append(Console.table(
                ["NOTIFIED", "EVENT", "RESULT", "ATTEMPTS", "ERROR"],
                deliveries.map { [$0.channel + ($0.action.map { " (\($0))" } ?? ""), $0.event,
                                  $0.delivered ? "delivered" : "FAILED", String($0.attempts), $0.error ?? ""] }))
        }
        Console.out(lines.joined(separator: "\n"))
    }

    /// One line per event, oldest first, with UTC times to the millisecond.
    static func timeline(run: RunRecord, steps: [StepRecord], deliveries: [DeliveryRecord]) -> String {
        var events: [(Date, String)] = [(run.startedAt, "run \(run.id) of plan \(run.plan) started by \(run.osUser) on \(run.host)")]
        for step in steps {
            guard let started = step.startedAt else { continue }
            events.append((started, "step \(step.stepId) (\(step.uses)) started"))
            if let ended = step.endedAt {
                let what = step.status.rawValue + (step.attempts > 1 ? " after \(step.attempts) attempts" : "")
                    + (step.error.map { ": \($0)" } ?? "")
                let lastLine = step.outputTail?.split(separator: "\n").last.map { " — \($0)" } ?? ""
                events.append((ended, "step \(step.stepId) \(what)" + (step.error == nil ? lastLine : "")
                    + " (\(Formatted.duration(ended.timeIntervalSince(started))))"))
            }
        }
        for delivery in deliveries {
            events.append((delivery.createdAt, "notified \(delivery.channel) of \(delivery.event): "
                + (delivery.delivered ? "delivered" : "FAILED (\(delivery.error ?? ""))")))
        }
        if let ended = run.endedAt {
            events.append((ended, "run \(run.status.rawValue)" + (run.error.map { ": \($0)" } ?? "")))
        }
        return events.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
            .map { Formatted.preciseTimestamp($0.element.0) + "  " + $0.element.1 }.joined(separator: "\n")
    }
}
