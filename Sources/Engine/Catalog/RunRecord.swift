import Foundation
import GRDB

/// How a run ended (or that it has not).
public enum RunStatus: String, Sendable, Codable, DatabaseValueConvertible {
    case running
    case succeeded
    case failed
    case cancelled
    /// The process died (SIGKILL, power loss) while the run was going on.
    case interrupted
}

/// What started a run.
public enum RunTrigger: String, Sendable, Codable, CaseIterable, DatabaseValueConvertible {
    case cli
    case cron
    case daemon
}

/// One run of a plan, as the catalog records it.
public struct RunRecord: Sendable, Codable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "runs"

    public var id: String
    public var plan: String
    public var planFile: String
    public var planDigest: String
    public var kind: String
    public var trigger: RunTrigger
    public var osUser: String
    public var host: String
    public var pid: Int32
    public var startedAt: Date
    public var endedAt: Date?
    public var status: RunStatus
    public var error: String?
    public var logFile: String

    public init(id: String, plan: String, planFile: String, planDigest: String, kind: String, trigger: RunTrigger,
                osUser: String, host: String, pid: Int32, startedAt: Date, endedAt: Date?, status: RunStatus,
                error: String?, logFile: String) {
        self.id = id
        self.plan = plan
        self.planFile = planFile
        self.planDigest = planDigest
        self.kind = kind
        self.trigger = trigger
        self.osUser = osUser
        self.host = host
        self.pid = pid
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.status = status
        self.error = error
        self.logFile = logFile
    }

    enum CodingKeys: String, CodingKey {
        case id, plan, kind, trigger, host, pid, status, error
        case planFile = "plan_file", planDigest = "plan_digest", osUser = "os_user"
        case startedAt = "started_at", endedAt = "ended_at", logFile = "log_file"
    }

    /// Wall time from start to end (or to now, while running).
    public func duration(now: Date = Date()) -> TimeInterval {
        (endedAt ?? now).timeIntervalSince(startedAt)
    }
}

/// How a step ended.
public enum StepStatus: String, Sendable, Codable, DatabaseValueConvertible {
    case pending
    case running
    case succeeded
    case failed
    /// Not run: a step it needs did not succeed, or the run stopped first.
    case skipped
    case cancelled
    case interrupted
}

/// Which list of the plan a step belongs to.
public enum StepPhase: String, Sendable, Codable, DatabaseValueConvertible {
    case main
    case onSuccess = "on_success"
    case onFailure = "on_failure"
}

/// One step of one run, as the catalog records it.
public struct StepRecord: Sendable, Codable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "steps"

    public var runId: String
    public var stepId: String
    public var phase: StepPhase
    public var position: Int
    public var uses: String
    public var status: StepStatus
    public var startedAt: Date?
    public var endedAt: Date?
    public var attempts: Int
    /// The last few KiB of the step's output, secrets redacted.
    public var outputTail: String?
    public var error: String?
    /// Failed, but `on_failure: continue` let the run go on.
    public var ignoredFailure: Bool

    public init(runId: String, stepId: String, phase: StepPhase, position: Int, uses: String, status: StepStatus,
                startedAt: Date?, endedAt: Date?, attempts: Int, outputTail: String?, error: String?,
                ignoredFailure: Bool) {
        self.runId = runId
        self.stepId = stepId
        self.phase = phase
        self.position = position
        self.uses = uses
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.attempts = attempts
        self.outputTail = outputTail
        self.error = error
        self.ignoredFailure = ignoredFailure
    }

    enum CodingKeys: String, CodingKey {
        case phase, position, uses, status, attempts, error
        case runId = "run_id", stepId = "step_id", startedAt = "started_at", endedAt = "ended_at"
        case outputTail = "output_tail", ignoredFailure = "ignored_failure"
    }
}
