import Engine
import Foundation
import LifeboatCore

/// One line per step event, for `--verbose`.
enum Progress {
    @Sendable static func print(_ event: RunEvent) {
        switch event {
        case .started(let run, let plan, let logFile):
            Console.out("run \(run) of plan '\(plan)' started (log: \(logFile))")
        case .stepStarted(let step, let attempt):
            Console.out("  ▸ \(step)" + (attempt > 1 ? " (attempt \(attempt))" : ""))
        case .stepRetrying(let step, let attempt, let error, let delay):
            Console.out("  ↻ \(step) attempt \(attempt) failed: \(error); retrying in \(delay)")
        case .stepFinished(let record):
            let elapsed = record.startedAt.map { Formatted.duration((record.endedAt ?? Date()).timeIntervalSince($0)) }
            let mark = switch record.status {
            case .succeeded: "✓"
            case .failed: record.ignoredFailure ? "!" : "✗"
            case .skipped: "-"
            default: "✗"
            }
            var line = "  \(mark) \(record.stepId) \(record.status.rawValue)"
            if let elapsed, record.status != .skipped { line += " in \(elapsed)" }
            if let error = record.error, record.status != .succeeded { line += ": \(error)" }
            Console.out(line)
        case .finished(let run):
            Console.out("run \(run.id) \(run.status.rawValue) in \(Formatted.duration(run.duration()))")
        }
    }
}
