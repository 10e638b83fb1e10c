import Foundation
import Logging
import Notify
import Plans

/// How a run is started.
public struct RunOptions: Sendable {
    public var trigger: RunTrigger = .cli
    public var interaction = Interaction()
    /// Overrides the plan's `concurrency` (default 4 steps at once).
    public var maxParallel: Int?
    /// Log lines at this level and above also go to standard error (the run log file always gets `info` and up).
    public var stderrLevel: Logger.Level = .warning
    /// The environment `${env:…}` references are read from.
    public var environment: [String: String] = ProcessInfo.processInfo.environment
    /// Told about every step as it starts and ends (for live progress lines).
    public var observer: (@Sendable (RunEvent) -> Void)?
    /// Leave drills' scratch servers running after the run (their connection strings are in the outcome).
    public var keepScratch = false
    /// Also write drill reports (JSON, Markdown, HTML) into this folder.
    public var reportDirectory: String?
    /// Continue this earlier run (same id): its succeeded main steps are kept, the others run again.
    public var resume: (run: RunRecord, steps: [StepRecord])?
    /// Asked before each step starts (`--step-by-step`); false declines the step, which then fails.
    public var beforeStep: (@Sendable (Step) async -> Bool)?

    public init() {}

    public static let defaultParallelism = 4
}

/// What happens during a run, for live progress output.
public enum RunEvent: Sendable {
    case started(run: String, plan: String, logFile: String)
    case stepStarted(step: String, attempt: Int)
    case stepRetrying(step: String, attempt: Int, error: String, delay: PlanDuration)
    case stepFinished(StepRecord)
    case finished(RunRecord)
}

/// A finished run: its record and its steps' records.
public struct RunOutcome: Sendable {
    public var run: RunRecord
    public var steps: [StepRecord]
    /// Drills: the report, and the files it was written to.
    public var report: DrillReport?
    public var reportFiles: [String] = []
    /// Every message sent to a channel during the run.
    public var deliveries: [DeliveryOutcome] = []
    /// `--keep`: scratch servers left running.
    public var keptServers: [(step: String, conninfo: String, folder: String)] = []

    public init(run: RunRecord, steps: [StepRecord]) {
        self.run = run
        self.steps = steps
    }

    /// The step that made the run fail, if one did.
    public var failedStep: StepRecord? {
        steps.first { $0.status == .failed && !$0.ignoredFailure }
    }
}
