import Foundation

/// What a plan is for; it decides how runs are reported and, later, which events are sent.
public enum PlanKind: String, Sendable, Hashable, Codable, CaseIterable {
    case backup
    case drill
    case failover
}

/// When a plan runs by itself.
public struct Schedule: Sendable, Hashable {
    public var cron: CronExpression
    /// An IANA time zone name such as `Europe/Berlin`; nil means the host's.
    public var timeZone: String?
    /// After downtime: `run-once` (default) runs one catch-up run, `skip` waits for the next time.
    public var missed: Missed = .runOnce
    /// When the previous run is still going: `forbid` (default) skips this time, `queue` runs it afterwards.
    public var overlap: Overlap = .forbid
    /// A random delay up to this long after each time (spreads plans that share a time).
    public var jitter: PlanDuration?

    public enum Missed: String, Sendable, Hashable { case skip, runOnce = "run-once" }
    public enum Overlap: String, Sendable, Hashable { case forbid, queue }

    public init(cron: CronExpression, timeZone: String? = nil) {
        self.cron = cron
        self.timeZone = timeZone
    }

    /// The zone's name as written (or the host's zone).
    public var zoneName: String { timeZone ?? TimeZone.current.identifier }

    /// The zone the schedule is read in.
    public var zone: TimeZone { timeZone.flatMap(TimeZone.init(identifier:)) ?? .current }
}

/// The recovery objectives a plan is held to.
public struct Targets: Sendable, Hashable, Codable {
    public var rpo: PlanDuration?
    public var rto: PlanDuration?

    public init(rpo: PlanDuration? = nil, rto: PlanDuration? = nil) {
        self.rpo = rpo
        self.rto = rto
    }
}

/// What happens to the rest of the run when a step fails (after its retries).
public enum FailureMode: String, Sendable, Hashable, Codable {
    /// The run fails; steps not yet started are skipped (the default).
    case stop
    /// The failure is recorded and reported, and the run goes on as if the step had succeeded.
    case `continue`
}

/// How often a failed step is tried again, and how long to wait in between.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Retries after the first attempt (0 = try once).
    public var count: Int
    /// Wait before the first retry; doubled for each further retry, up to `maxBackoff`, with ±20 % jitter.
    public var backoff: PlanDuration
    public var maxBackoff: PlanDuration

    public init(count: Int = 0, backoff: PlanDuration = PlanDuration(milliseconds: 5_000),
                maxBackoff: PlanDuration = PlanDuration(milliseconds: 300_000)) {
        self.count = count
        self.backoff = backoff
        self.maxBackoff = maxBackoff
    }

    public static let none = RetryPolicy()

    /// The wait before retry number `retry` (1-based), without jitter.
    public func delay(beforeRetry retry: Int) -> PlanDuration {
        let factor = pow2(max(0, retry - 1))
        let milliseconds = min(Double(backoff.milliseconds) * factor, Double(maxBackoff.milliseconds))
        return PlanDuration(milliseconds: Int64(milliseconds))
    }

    private func pow2(_ exponent: Int) -> Double {
        exponent >= 62 ? .greatestFiniteMagnitude : Double(Int64(1) << exponent)
    }
}

/// One step of a plan.
public struct Step: Sendable, Hashable {
    public var id: String
    /// The step type, e.g. `exec`, `approval`.
    public var uses: String
    public var parameters: [String: ParameterValue]
    public var needs: [String]
    public var timeout: PlanDuration?
    public var retries: RetryPolicy
    public var onFailure: FailureMode
    public var location: SourceLocation

    public init(id: String, uses: String, parameters: [String: ParameterValue] = [:], needs: [String] = [],
                timeout: PlanDuration? = nil, retries: RetryPolicy = .none, onFailure: FailureMode = .stop,
                location: SourceLocation = SourceLocation(file: "<memory>")) {
        self.id = id
        self.uses = uses
        self.parameters = parameters
        self.needs = needs
        self.timeout = timeout
        self.retries = retries
        self.onFailure = onFailure
        self.location = location
    }
}

/// A recovery plan, parsed and validated.
public struct Plan: Sendable, Hashable {
    public var name: String
    public var kind: PlanKind
    public var description: String?
    /// The plan file's path as given.
    public var file: String
    /// SHA-256 of the plan file's bytes, as hex (filled in by the loader's caller; empty for in-memory plans).
    public var digest: String
    public var inventory: Inventory
    public var schedule: Schedule?
    public var targets: Targets?
    /// At most this many steps run at once (nil: the runner's default).
    public var concurrency: Int?
    public var steps: [Step]
    public var onSuccess: [Step]
    public var onFailure: [Step]
    /// Which channels get which events (`notify:`).
    public var notify: [NotifyRoute] = []

    public init(name: String, kind: PlanKind, description: String? = nil, file: String = "<memory>",
                digest: String = "", inventory: Inventory = .empty, schedule: Schedule? = nil,
                targets: Targets? = nil, concurrency: Int? = nil, steps: [Step],
                onSuccess: [Step] = [], onFailure: [Step] = []) {
        self.name = name
        self.kind = kind
        self.description = description
        self.file = file
        self.digest = digest
        self.inventory = inventory
        self.schedule = schedule
        self.targets = targets
        self.concurrency = concurrency
        self.steps = steps
        self.onSuccess = onSuccess
        self.onFailure = onFailure
    }
}

/// One `notify:` route: these channels get these events (names or patterns such as `run.*` or `*`).
public struct NotifyRoute: Sendable, Hashable {
    public var channels: [String]
    public var events: [String]

    public init(channels: [String], events: [String]) {
        self.channels = channels
        self.events = events
    }

    /// The events Lifeboat sends.
    public static let events = [
        "run.started", "run.succeeded", "run.failed", "step.failed", "approval.waiting", "drill.started",
        "drill.report", "rpo.breached", "rpo.recovered", "failover.started", "failover.step", "failover.completed",
        "failover.failed",
    ]

    static let fields = [
        ParameterSpec("channels", .list(.reference(.channels)), required: true),
        ParameterSpec("events", .list(.string), "event names or patterns (default: all)"),
    ]

    static func isKnown(_ pattern: String) -> Bool {
        pattern == "*" || events.contains(pattern) || (pattern.hasSuffix(".*") && events.contains { $0.hasPrefix(pattern.dropLast()) })
    }

    /// Whether this route sends `event`.
    public func matches(_ event: String) -> Bool {
        events.contains { $0 == "*" || $0 == event || ($0.hasSuffix(".*") && event.hasPrefix($0.dropLast())) }
    }
}
