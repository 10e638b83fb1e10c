import Foundation
import Logging
import Plans
import Repository
import LifeboatCore

/// Runs a plan's step graph and records everything in the catalog.
///
/// Steps whose `needs` have succeeded run in parallel, at most `concurrency` at once. Each step gets its timeout and
/// its retries (exponential backoff with jitter). A failed step stops the run unless it says `on_failure: continue`;
/// steps that need a failed step are skipped. Then the plan's `on_success` or `on_failure` steps run. Cancelling the
/// task that calls `run` cancels the running steps (their processes are ended) and records the run as cancelled.
public struct PlanRunner: Sendable {
    public let catalog: Catalog
    public let registry: StepRegistry

    public init(catalog: Catalog, registry: StepRegistry = .standard) {
        self.catalog = catalog
        self.registry = registry
    }

    /// Runs `plan` to its end. Throws only when the run cannot start (lock held, state unusable); a run that
    /// starts always returns its outcome, whatever its status.
    public func run(_ plan: Plan, options: RunOptions = RunOptions()) async throws -> RunOutcome {
        let state = catalog.state
        let lock = try PlanLock.acquire(plan: plan.name, in: state)
        defer { withExtendedLifetime(lock) {} }
        try catalog.markInterrupted(plan: plan.name)

        let runId = options.resume?.run.id ?? Self.newRunId()
        let redactor = Redactor()
        let log = try RunLog(path: state.logPath(run: runId), stderrLevel: options.stderrLevel, redactor: redactor,
                             append: options.resume != nil)
        defer { log.close() }
        let logger = log.logger("run")

        var run: RunRecord
        let pending: [StepRecord]
        if let resumed = options.resume {
            // The same run goes on: succeeded steps stay done, every other step runs again.
            run = resumed.run
            run.status = .running
            run.endedAt = nil
            run.error = nil
            run.pid = getpid()
            let previous = Dictionary(resumed.steps.filter { $0.phase == .main }.map { ($0.stepId, $0) },
                                      uniquingKeysWith: { $1 })
            pending = plan.steps.enumerated().map { position, step in
                if let old = previous[step.id], old.status == .succeeded { return old }
                return Self.record(runId: runId, step: step, phase: .main, position: position)
            }
            try catalog.update(run)
            try catalog.insertSteps(pending)
            let done = pending.filter { $0.status == .succeeded }.count
            logger.info("run \(runId) of plan '\(plan.name)' resumed by \(OperatingSystemUser.current); \(done) of \(pending.count) steps already succeeded")
        } else {
            run = RunRecord(
                id: runId, plan: plan.name, planFile: plan.file, planDigest: plan.digest, kind: plan.kind.rawValue,
                trigger: options.trigger, osUser: OperatingSystemUser.current, host: ProcessInfo.processInfo.hostName,
                pid: getpid(), startedAt: Date(), endedAt: nil, status: .running, error: nil, logFile: log.path ?? "")
            pending = plan.steps.enumerated().map { position, step in
                Self.record(runId: runId, step: step, phase: .main, position: position)
            }
            try catalog.insert(run, steps: pending)
            logger.info("run \(runId) of plan '\(plan.name)' (\(plan.kind.rawValue)) started by \(run.osUser) via \(options.trigger.rawValue); plan file \(plan.file) sha256 \(plan.digest)")
        }
        options.observer?(.started(run: runId, plan: plan.name, logFile: run.logFile))

        let secrets = SecretResolver(environment: options.environment, redactor: redactor)
        let notifier = RunNotifier(plan: plan, runId: runId, secrets: secrets, catalog: catalog, logger: log.logger("notify"))
        let session = RunSession(runId: runId, startedAt: run.startedAt, keepScratch: options.keepScratch,
                                 notifier: notifier)
        notifier.emit(.runStarted, summary: "run \(runId) of plan \(plan.name) started by \(run.osUser) on \(run.host)")
        if plan.kind == .failover {
            notifier.emit(options.resume == nil ? .failoverStarted : .failoverStep,
                          summary: options.resume == nil ? "failover \(plan.name) started by \(OperatingSystemUser.current)"
                                                         : "failover \(plan.name) resumed by \(OperatingSystemUser.current)",
                          fields: ["step": options.resume == nil ? "" : "resume"])
        }
        if plan.kind == .drill {
            notifier.emit(.drillStarted, summary: "drill \(runId) of plan \(plan.name) started: nothing is down")
        }
        let execution = Execution(plan: plan, runId: runId, catalog: catalog, registry: registry, options: options,
                                  secrets: secrets, log: log, session: session)
        var records = await execution.runGraph(plan.steps, phase: .main, initial: pending)
        var status = Self.status(of: records, cancelled: Task.isCancelled)

        if status != .cancelled {
            let hooks = status == .succeeded ? plan.onSuccess : plan.onFailure
            let phase: StepPhase = status == .succeeded ? .onSuccess : .onFailure
            if !hooks.isEmpty {
                logger.info("running \(phase.rawValue) steps")
                let hookPending = hooks.enumerated().map { position, step in
                    Self.record(runId: runId, step: step, phase: phase, position: position)
                }
                do {
                    try catalog.insertSteps(hookPending)
                } catch {
                    logger.error("cannot record \(phase.rawValue) steps: \(error)")
                }
                let hookRecords = await execution.runGraph(hooks, phase: phase, initial: hookPending)
                records += hookRecords
                let hookStatus = Self.status(of: hookRecords, cancelled: Task.isCancelled)
                if hookStatus == .cancelled || (status == .succeeded && hookStatus == .failed) {
                    status = hookStatus
                }
            }
        }

        // Scratch servers go however the run ended (success, failure, cancellation), unless --keep.
        let kept = session.cleanUp()
        for server in kept {
            logger.notice("kept the scratch server of step '\(server.step)': \(server.conninfo) (folder \(server.folder))")
        }

        run.status = status
        run.endedAt = Date()
        if let failed = records.first(where: { $0.status == .failed && !$0.ignoredFailure }) {
            run.error = "step '\(failed.stepId)' failed: \(failed.error ?? "unknown error")"
        } else if status == .cancelled {
            run.error = "cancelled by a signal"
        }
        logger.info("run \(runId) \(status.rawValue) after \(Formatted.duration(run.duration()))")
        try catalog.update(run)

        var outcome = RunOutcome(run: run, steps: records)
        outcome.keptServers = kept.map { ($0.step, $0.conninfo, $0.folder) }
        if plan.kind == .failover {
            if status == .succeeded {
                notifier.emit(.failoverCompleted, summary: "failover \(plan.name) completed in \(Formatted.duration(run.duration()))")
            } else {
                notifier.emit(.failoverFailed, summary: "failover \(plan.name) stopped: \(run.error ?? status.rawValue)",
                              details: ["resume it with: lifeboat resume \(runId)"], failure: true)
            }
        }
        switch status {
        case .succeeded:
            notifier.emit(.runSucceeded, summary: "run \(runId) of plan \(plan.name) succeeded after \(Formatted.duration(run.duration()))")
        case .failed:
            notifier.emit(.runFailed, summary: "run \(runId) of plan \(plan.name) failed", details: [run.error ?? ""],
                          failure: true)
        default:
            break
        }
        if plan.kind == .drill {
            let report = DrillReport.build(plan: plan, run: run, steps: records, session: session)
            outcome.report = report
            do {
                try catalog.insert(DrillRecord(report))
                outcome.reportFiles = try DrillReportFiles.write(report, to: state.reportsPath)
                if let extra = options.reportDirectory {
                    outcome.reportFiles += try DrillReportFiles.write(report, to: extra)
                }
                logger.info("drill verdict \(report.verdict.shown); report \(outcome.reportFiles.joined(separator: ", "))")
            } catch {
                logger.error("cannot write the drill report: \(error)")
            }
            notifier.emit(.drillReport, summary: "drill \(runId): \(report.passed ? "PASSED" : "FAILED")",
                          details: report.reasons + report.warnings,
                          fields: ["verdict": report.verdict.shown,
                                   "rpo": report.rpo.measuredSeconds.map { Formatted.duration($0) } ?? "not measured",
                                   "rto": report.rto.measuredSeconds.map { Formatted.duration($0) } ?? "not measured",
                                   "rpo_target": report.rpo.targetSeconds.map { Formatted.duration($0) } ?? "none",
                                   "rto_target": report.rto.targetSeconds.map { Formatted.duration($0) } ?? "none",
                                   "report": outcome.reportFiles.first { $0.hasSuffix(".md") } ?? ""],
                          failure: !report.passed)
        }
        // Deliveries end before the run does (bounded); a required channel that stayed down fails the run.
        let deliveries = await notifier.finish()
        outcome.deliveries = deliveries.map(\.0)
        if let down = deliveries.first(where: { !$0.0.delivered && $0.required }), outcome.run.status == .succeeded {
            outcome.run.status = .failed
            outcome.run.error = "required channel '\(down.0.channel)' could not be notified: \(down.0.error ?? "")"
            logger.error("\(outcome.run.error!)")
            try catalog.update(outcome.run)
        }
        options.observer?(.finished(run))
        return outcome
    }

    static func status(of records: [StepRecord], cancelled: Bool) -> RunStatus {
        if cancelled || records.contains(where: { $0.status == .cancelled }) { return .cancelled }
        if records.contains(where: { $0.status == .failed && !$0.ignoredFailure }) { return .failed }
        if records.contains(where: { $0.status == .skipped }) { return .failed }
        return .succeeded
    }

    static func record(runId: String, step: Step, phase: StepPhase, position: Int) -> StepRecord {
        StepRecord(runId: runId, stepId: step.id, phase: phase, position: position, uses: step.uses, status: .pending,
                   startedAt: nil, endedAt: nil, attempts: 0, outputTail: nil, error: nil, ignoredFailure: false)
    }

    /// `20261126T181200Z-3fa9`: sortable by time, short enough to type, unique enough for one host.
    static func newRunId(now: Date = Date()) -> String {
        Formatted.compactTimestamp(now) + "-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
    }
}

/// The state of one run while its graphs execute.
private struct Execution: Sendable {
    let plan: Plan
    let runId: String
    let catalog: Catalog
    let registry: StepRegistry
    let options: RunOptions
    let secrets: SecretResolver
    let log: RunLog
    let session: RunSession

    var logger: Logger { log.logger("run") }

    /// Runs one list of steps as a graph and returns their final records.
    func runGraph(_ steps: [Step], phase: StepPhase, initial: [StepRecord]) async -> [StepRecord] {
        var records = Dictionary(uniqueKeysWithValues: initial.map { ($0.stepId, $0) })
        let limit = max(1, options.maxParallel ?? plan.concurrency ?? RunOptions.defaultParallelism)

        await withTaskGroup(of: StepRecord.self) { group in
            var running = 0
            var stopping = false
            while true {
                if Task.isCancelled { stopping = true }
                // Skip steps that can no longer run, until nothing changes (skips propagate down the graph).
                var changed = true
                while changed {
                    changed = false
                    for step in steps where records[step.id]?.status == .pending {
                        let blocked = step.needs.contains { need in
                            guard let status = records[need]?.status else { return false }
                            return [.skipped, .cancelled, .interrupted].contains(status)
                                || (status == .failed && records[need]?.ignoredFailure == false)
                        }
                        if blocked || (stopping && running == 0) {
                            records[step.id] = skip(records[step.id]!, because: blocked
                                ? "a step it needs did not succeed" : "the run stopped before it started")
                            changed = true
                        }
                    }
                }
                if !stopping {
                    for step in steps where running < limit && records[step.id]?.status == .pending {
                        let ready = step.needs.allSatisfy { need in
                            records[need]?.status == .succeeded
                                || (records[need]?.status == .failed && records[need]?.ignoredFailure == true)
                        }
                        guard ready else { continue }
                        var record = records[step.id]!
                        record.status = .running
                        records[step.id] = record
                        running += 1
                        group.addTask { await runStep(step, record: record) }
                    }
                }
                guard running > 0 else { break }
                guard let finished = await group.next() else { break }
                running -= 1
                records[finished.stepId] = finished
                if finished.status == .cancelled
                    || (finished.status == .failed && !finished.ignoredFailure) {
                    stopping = true
                }
            }
        }
        return initial.map { records[$0.stepId]! }
    }

    private func skip(_ record: StepRecord, because reason: String) -> StepRecord {
        var record = record
        record.status = Task.isCancelled ? .cancelled : .skipped
        record.error = Task.isCancelled ? "the run was cancelled before it started" : reason
        save(record)
        options.observer?(.stepFinished(record))
        return record
    }

    /// Runs one step with its retries and timeout; returns its final record.
    private func runStep(_ step: Step, record initial: StepRecord) async -> StepRecord {
        var record = initial
        let stepLogger = log.logger(step.id)
        let output = StepOutput(logger: stepLogger, redactor: secrets.redactor)
        record.startedAt = Date()
        guard let type = registry[step.uses] else {
            record.status = .failed
            record.error = "unknown step type '\(step.uses)'"
            record.endedAt = Date()
            save(record)
            return record
        }
        if let gate = options.beforeStep, !(await gate(step)) {
            record.status = .failed
            record.error = "declined by \(OperatingSystemUser.current) before it started"
            record.startedAt = Date()
            record.endedAt = Date()
            save(record)
            options.observer?(.stepFinished(record))
            return record
        }
        var attempt = 0
        while true {
            attempt += 1
            record.attempts = attempt
            record.status = .running
            save(record)
            options.observer?(.stepStarted(step: step.id, attempt: attempt))
            stepLogger.info("step '\(step.id)' (\(step.uses)) attempt \(attempt) of \(step.retries.count + 1)")
            let context = StepContext(runId: runId, plan: plan, step: step, attempt: attempt, secrets: secrets,
                                      logger: stepLogger, output: output, interaction: options.interaction,
                                      session: session, catalog: catalog)
            do {
                try await withTimeout(step.timeout) { try await type.run(context) }
                record.status = .succeeded
                record.error = nil
                break
            } catch {
                if Task.isCancelled {
                    record.status = .cancelled
                    record.error = "cancelled while running"
                    stepLogger.warning("step '\(step.id)' cancelled")
                    break
                }
                let message = secrets.redactor.redact(Self.describe(error))
                if attempt <= step.retries.count {
                    let delay = Self.jittered(step.retries.delay(beforeRetry: attempt))
                    stepLogger.warning("step '\(step.id)' attempt \(attempt) failed: \(message); retrying in \(delay)")
                    options.observer?(.stepRetrying(step: step.id, attempt: attempt, error: message, delay: delay))
                    do {
                        try await Task.sleep(for: delay.duration)
                        continue
                    } catch {
                        record.status = .cancelled
                        record.error = "cancelled while waiting to retry after: \(message)"
                        break
                    }
                }
                record.status = .failed
                record.error = message
                record.ignoredFailure = step.onFailure == .continue
                session.notifier?.emit(.stepFailed, summary: "step '\(step.id)' (\(step.uses)) failed"
                                           + (record.ignoredFailure ? "; the plan lets the run go on" : ""),
                                       details: [message], fields: ["step": step.id], failure: true)
                if record.ignoredFailure {
                    stepLogger.warning("step '\(step.id)' failed: \(message) (on_failure: continue, the run goes on)")
                } else {
                    stepLogger.error("step '\(step.id)' failed: \(message)")
                }
                break
            }
        }
        record.endedAt = Date()
        let tail = output.tail
        record.outputTail = tail.isEmpty ? nil : tail
        save(record)
        if plan.kind == .failover && record.status == .succeeded {
            session.notifier?.emit(.failoverStep, summary: "step '\(step.id)' (\(step.uses)) done"
                                       + (output.lastLine.map { ": \($0)" } ?? ""), fields: ["step": step.id])
        }
        options.observer?(.stepFinished(record))
        return record
    }

    private func save(_ record: StepRecord) {
        do {
            try catalog.update(record)
        } catch {
            logger.error("cannot record step '\(record.stepId)' in the catalog: \(error)")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? any LifeboatFailure { return error.message }
        return String(describing: error)
    }

    /// ±20 % so that many retrying clients do not fall into step.
    static func jittered(_ delay: PlanDuration) -> PlanDuration {
        PlanDuration(milliseconds: Int64(Double(delay.milliseconds) * Double.random(in: 0.8...1.2)))
    }
}
