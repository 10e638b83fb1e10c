import Foundation
import LifeboatCore

/// What Lifeboat tells people about.
public enum EventKind: String, Sendable, CaseIterable, Codable {
    case runStarted = "run.started"
    case runSucceeded = "run.succeeded"
    case runFailed = "run.failed"
    case stepFailed = "step.failed"
    case approvalWaiting = "approval.waiting"
    case drillStarted = "drill.started"
    case drillReport = "drill.report"
    case rpoBreached = "rpo.breached"
    case rpoRecovered = "rpo.recovered"
    case failoverStarted = "failover.started"
    case failoverStep = "failover.step"
    case failoverCompleted = "failover.completed"
    case failoverFailed = "failover.failed"
    /// A `notify` step's own message.
    case message = "message"
    /// `lifeboat notify test`.
    case test = "test"
}

/// One event, with everything a template may show. Every message says whether it is a DRILL or a REAL INCIDENT.
public struct NotificationEvent: Sendable {
    public var kind: EventKind
    public var plan: String
    public var runId: String
    public var drill: Bool
    /// One line: what happened.
    public var summary: String
    /// More lines (the step's error, the verdict's reasons, a message).
    public var details: [String]
    /// Extra values for templates and JSON payloads (e.g. `step`, `verdict`, `rpo`, `rto`, `report`).
    public var fields: [String: String]
    public var time: Date
    /// Whether this is bad news (failures, breaches): PagerDuty triggers, Slack colours.
    public var failure: Bool

    public init(kind: EventKind, plan: String, runId: String, drill: Bool, summary: String, details: [String] = [],
                fields: [String: String] = [:], time: Date = Date(), failure: Bool = false) {
        self.kind = kind
        self.plan = plan
        self.runId = runId
        self.drill = drill
        self.summary = summary
        self.details = details
        self.fields = fields
        self.time = time
        self.failure = failure
    }

    /// `DRILL` or `REAL INCIDENT`.
    public var marker: String { drill ? "DRILL" : "REAL INCIDENT" }

    /// The values templates see.
    public var templateValues: [String: Any] {
        var values: [String: Any] = fields
        values["event"] = kind.rawValue
        values["plan"] = plan
        values["run"] = runId
        values["marker"] = marker
        values["drill"] = drill
        values["summary"] = summary
        values["details"] = details
        values["time"] = Formatted.timestamp(time)
        return values
    }
}
