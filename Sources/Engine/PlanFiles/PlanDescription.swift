import Foundation
import Plans

/// A plan as `plan show` and `run --dry-run` present it: the steps in the order they run, with their parameters.
/// Secrets appear as their references (`${env:NAME}`), never as values; nothing secret is read.
public struct PlanDescription: Encodable, Sendable {
    public struct StepEntry: Encodable, Sendable {
        public var id: String
        public var uses: String
        public var stage: Int
        public var needs: [String]
        public var timeout: PlanDuration?
        public var retries: Int
        public var onFailure: FailureMode
        public var with: [String: ParameterValue]
    }

    public struct ScheduleEntry: Encodable, Sendable {
        public var cron: String
        public var timezone: String?
    }

    public var plan: String
    public var kind: PlanKind
    public var description: String?
    public var file: String
    public var sha256: String
    public var inventory: String?
    public var schedule: ScheduleEntry?
    public var targets: Targets?
    public var concurrency: Int
    public var steps: [StepEntry]
    public var onSuccess: [StepEntry]
    public var onFailure: [StepEntry]

    public init(_ plan: Plan, maxParallel: Int? = nil) {
        self.plan = plan.name
        kind = plan.kind
        description = plan.description
        file = plan.file
        sha256 = plan.digest
        inventory = plan.inventory.file
        schedule = plan.schedule.map { ScheduleEntry(cron: $0.cron.source, timezone: $0.timeZone) }
        targets = plan.targets
        concurrency = maxParallel ?? plan.concurrency ?? RunOptions.defaultParallelism
        steps = Self.entries(plan.steps)
        onSuccess = Self.entries(plan.onSuccess)
        onFailure = Self.entries(plan.onFailure)
    }

    private static func entries(_ steps: [Step]) -> [StepEntry] {
        StepGraph(steps).stages.enumerated().flatMap { stage, members in
            members.map { step in
                StepEntry(id: step.id, uses: step.uses, stage: stage + 1, needs: step.needs, timeout: step.timeout,
                          retries: step.retries.count, onFailure: step.onFailure, with: step.parameters)
            }
        }
    }

    /// Human-readable text.
    public var text: String {
        var lines: [String] = []
        lines.append("plan \(plan) (\(kind.rawValue))" + (description.map { ": \($0)" } ?? ""))
        lines.append("  file       \(file)" + (sha256.isEmpty ? "" : "  sha256 \(sha256.prefix(12))"))
        lines.append("  inventory  \(inventory ?? "none")")
        if let schedule {
            lines.append("  schedule   \(schedule.cron)" + (schedule.timezone.map { " (\($0))" } ?? " (host time zone)"))
        }
        if let targets {
            let parts = [targets.rpo.map { "rpo \($0)" }, targets.rto.map { "rto \($0)" }].compactMap { $0 }
            lines.append("  targets    " + parts.joined(separator: ", "))
        }
        lines.append("  parallel   up to \(concurrency) steps at once")
        for (title, entries) in [("steps", steps), ("on_success", onSuccess), ("on_failure", onFailure)]
        where !entries.isEmpty {
            lines.append("")
            lines.append("\(title), in order (steps of one stage may run in parallel):")
            var currentStage = 0
            for entry in entries {
                if entry.stage != currentStage {
                    currentStage = entry.stage
                    lines.append("  stage \(currentStage)")
                }
                var facts: [String] = []
                if !entry.needs.isEmpty { facts.append("needs " + entry.needs.joined(separator: ", ")) }
                if let timeout = entry.timeout { facts.append("timeout \(timeout)") }
                if entry.retries > 0 { facts.append("retries \(entry.retries)") }
                if entry.onFailure == .continue { facts.append("on_failure continue") }
                lines.append("    \(entry.id)  [\(entry.uses)]" + (facts.isEmpty ? "" : "  " + facts.joined(separator: "; ")))
                for key in entry.with.keys.sorted() {
                    lines.append("      \(key): \(entry.with[key]!)")
                }
            }
        }
        return lines.joined(separator: "\n")
    }
}
