import Foundation
import LifeboatCore
import Plans
import Repository
import LifeboatCrypto

/// The evidence of one drill and its verdict: what was restored, how long each phase took, what each check found,
/// the RPO and RTO measured against the plan's targets, and a projection of the RTO at the database's current size.
public struct DrillReport: Codable, Sendable {
    public struct Objective: Codable, Sendable {
        /// nil when it could not be measured (then it is not met).
        public var measuredSeconds: Double?
        public var targetSeconds: Double?
        /// `pass`, `fail`, or `none` (no target).
        public var verdict: String
        public var method: String

        enum CodingKeys: String, CodingKey {
            case verdict, method
            case measuredSeconds = "measured_seconds", targetSeconds = "target_seconds"
        }
    }

    public struct Phase: Codable, Sendable {
        public var name: String
        public var seconds: Double
        public var bytes: Int64?

        public var throughput: Double? {
            guard let bytes, seconds > 0 else { return nil }
            return Double(bytes) / seconds
        }
    }

    public struct Projection: Codable, Sendable {
        public var currentBytes: Int64
        public var restoreBytesPerSecond: Double
        public var projectedRTOSeconds: Double
        public var growthBytesPerDay: Double?
        /// Days until the projected RTO reaches the target at the current growth (nil: no growth or no target).
        public var daysUntilTarget: Double?
        public var warning: String?

        enum CodingKeys: String, CodingKey {
            case warning
            case currentBytes = "current_bytes", restoreBytesPerSecond = "restore_bytes_per_second"
            case projectedRTOSeconds = "projected_rto_seconds", growthBytesPerDay = "growth_bytes_per_day"
            case daysUntilTarget = "days_until_target"
        }
    }

    public struct StepTiming: Codable, Sendable {
        public var id: String
        public var uses: String
        public var status: String
        public var startedAt: Date?
        public var seconds: Double?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case id, uses, status, seconds, error
            case startedAt = "started_at"
        }
    }

    public var runId: String
    public var plan: String
    public var planFile: String
    public var planDigest: String
    public var ranBy: String
    public var host: String
    public var trigger: String
    public var startedAt: Date
    public var endedAt: Date
    /// `pass` or `fail`.
    public var verdict: String
    public var reasons: [String]
    public var warnings: [String]
    public var rpo: Objective
    public var rto: Objective
    public var phases: [Phase]
    public var projection: Projection?
    public var restores: [RestoreEvidence]
    public var checks: [CheckEvidence]
    public var steps: [StepTiming]
    /// SHA-256 of the evidence (restores, checks, objectives) as canonical JSON: quoting it pins this report.
    public var evidenceDigest: String

    public var passed: Bool { verdict == "pass" }

    enum CodingKeys: String, CodingKey {
        case plan, verdict, reasons, warnings, rpo, rto, phases, projection, restores, checks, steps, host, trigger
        case runId = "run_id", planFile = "plan_file", planDigest = "plan_digest", ranBy = "ran_by"
        case startedAt = "started_at", endedAt = "ended_at", evidenceDigest = "evidence_digest"
    }
}

extension DrillReport {
    /// Builds the report of a finished drill run.
    public static func build(plan: Plan, run: RunRecord, steps: [StepRecord], session: RunSession) -> DrillReport {
        let restores = session.restores
        let checks = session.checks
        var reasons: [String] = []
        var warnings: [String] = []
        if run.status != .succeeded {
            reasons.append("the drill did not complete: " + (run.error ?? run.status.rawValue))
        }
        for check in checks where check.passed == false {
            reasons.append("check '\(check.name)' failed: expected \(check.expectation), got \(check.actual)")
        }
        for check in checks where check.passed == nil {
            warnings.append("check '\(check.name)' could not be decided: \(check.detail ?? "no result")")
        }
        if restores.isEmpty && checks.isEmpty { reasons.append("nothing was restored or checked: the drill proves nothing") }

        // RTO: from the drill's start until the restored server passed its checks.
        let checksPassed = !checks.contains { $0.passed == false }
        let finished = (checks.map(\.finishedAt) + restores.map(\.readyAt)).max()
        let rtoSeconds = run.status == .succeeded && checksPassed && !(restores.isEmpty && checks.isEmpty)
            ? finished.map { $0.timeIntervalSince(run.startedAt) } : nil
        let rtoTarget = plan.targets?.rto.map { Double($0.milliseconds) / 1000 }
        let rto = objective(rtoSeconds, target: rtoTarget, name: "RTO",
                            method: restores.isEmpty
                                ? "wall time from the drill's start until its health checks passed"
                                : "wall time from the drill's start until the restored server passed its checks",
                            reasons: &reasons)

        // RPO: committed work a disaster at the drill's start would have lost.
        let rpoTarget = plan.targets?.rpo.map { Double($0.milliseconds) / 1000 }
        var rpoSeconds: Double?
        var method = "not measured: no restore"
        if let first = restores.first {
            let disaster = first.archiveCutoff ?? run.startedAt
            if let beat = first.restoredHeartbeat {
                rpoSeconds = max(0, disaster.timeIntervalSince(beat))
                method = "heartbeat: the drill restored the archive as it was at its start (\(Formatted.preciseTimestamp(disaster))); the newest "
                    + "heartbeat the restored server has is \(Formatted.preciseTimestamp(beat))"
                    + (first.sourceHeartbeat.map { ", the source's was \(Formatted.preciseTimestamp($0))" } ?? "")
                    + ". RPO = drill start − restored heartbeat (its resolution is the heartbeat interval)"
            } else if let commit = first.lastReplayedCommit {
                rpoSeconds = max(0, disaster.timeIntervalSince(commit))
                method = "last replayed commit (\(Formatted.preciseTimestamp(commit))) against the drill's start (\(Formatted.preciseTimestamp(disaster))); an upper "
                    + "bound: an idle source has no newer commits to lose. Add a postgres.heartbeat step for a sharper figure"
            } else {
                method = "not measured: the restored server has no heartbeat and replayed no transaction"
            }
        }
        // Mirrors: their exposure is the time since the stalest one last synced.
        if let stalest = session.mirrorAges.max(by: { $0.seconds < $1.seconds }) {
            let text = "mirror freshness: \(stalest.mirror) last synced \(Formatted.duration(stalest.seconds)) before the check"
            if restores.isEmpty {
                rpoSeconds = stalest.seconds
                method = text
            } else if let database = rpoSeconds, stalest.seconds > database {
                rpoSeconds = stalest.seconds
                method = text + " (the databases' own exposure is smaller); " + method
            } else {
                method += "; " + text
            }
        }
        var rpo = objective(rpoSeconds, target: rpoTarget, name: "RPO", method: method, reasons: &reasons)
        // A gap in the archive: recovery would stop before the disaster's moment, whatever was measured.
        for (database, gap) in session.walGaps {
            rpo.verdict = "fail"
            rpo.method = "not met: the archive of \(database) has a gap (\(gap))"
            reasons.append("RPO not met: the archive of \(database) has a gap: \(gap)")
        }

        var phases: [Phase] = []
        for restore in restores {
            let suffix = restores.count > 1 ? " (\(restore.database))" : ""
            phases.append(Phase(name: "fetch, decrypt, decompress, write" + suffix, seconds: restore.restoreSeconds,
                                bytes: restore.restoredBytes))
            phases.append(Phase(name: "server start-up" + suffix, seconds: restore.startupSeconds, bytes: nil))
            phases.append(Phase(name: "WAL replay until writable" + suffix, seconds: restore.replaySeconds, bytes: nil))
        }
        if !checks.isEmpty {
            phases.append(Phase(name: "checks", seconds: checks.reduce(0) { $0 + $1.seconds }, bytes: nil))
        }

        var projection: Projection?
        if let restore = restores.first, restore.restoreSeconds > 0, restore.restoredBytes > 0, let rtoSeconds {
            let rate = Double(restore.restoredBytes) / restore.restoreSeconds
            let current = restore.sourceBytes ?? restore.backupLogicalBytes
            let projected = rtoSeconds - restore.restoreSeconds + Double(current) / rate
            var days: Double?
            var warning: String?
            if let rtoTarget {
                if projected > rtoTarget {
                    warning = "at its current size (\(Formatted.bytes(current))) this database would take \(Formatted.duration(projected)) "
                        + "to recover, over the RTO target of \(Formatted.duration(rtoTarget))"
                } else if let growth = restore.growthBytesPerDay, growth > 0 {
                    days = (rtoTarget - projected) / (growth / rate)
                    if let days, days < 90 {
                        warning = "at its growth of \(Formatted.bytes(Int64(growth))) a day, the projected RTO reaches the target "
                            + "in about \(Int(days)) days"
                    }
                }
            }
            if let warning { warnings.append(warning) }
            projection = Projection(currentBytes: current, restoreBytesPerSecond: rate, projectedRTOSeconds: projected,
                                    growthBytesPerDay: restore.growthBytesPerDay, daysUntilTarget: days, warning: warning)
        }

        let timings = steps.map { step in
            StepTiming(id: step.stepId, uses: step.uses, status: step.status.rawValue, startedAt: step.startedAt,
                       seconds: step.startedAt.flatMap { start in step.endedAt.map { $0.timeIntervalSince(start) } },
                       error: step.error)
        }
        var report = DrillReport(
            runId: run.id, plan: plan.name, planFile: plan.file, planDigest: plan.digest, ranBy: run.osUser,
            host: run.host, trigger: run.trigger.rawValue, startedAt: run.startedAt, endedAt: run.endedAt ?? Date(),
            verdict: reasons.isEmpty ? "pass" : "fail", reasons: reasons, warnings: warnings, rpo: rpo, rto: rto,
            phases: phases, projection: projection, restores: restores, checks: checks, steps: timings,
            evidenceDigest: "")
        report.evidenceDigest = report.computeDigest()
        return report
    }

    /// SHA-256 over the evidence as canonical JSON (sorted keys).
    public func computeDigest() -> String {
        struct Evidence: Encodable {
            var restores: [RestoreEvidence]
            var checks: [CheckEvidence]
            var rpo: Objective
            var rto: Objective
        }
        let bytes = (try? Self.encoder.encode(Evidence(restores: restores, checks: checks, rpo: rpo, rto: rto))) ?? Data()
        return SHA256.hexDigest(Array(bytes))
    }

    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Formatted.preciseTimestamp(date))
        }
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Formatted.parseTimestamp(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad date \(text)"))
            }
            return date
        }
        return decoder
    }

    private static func objective(_ measured: Double?, target: Double?, name: String, method: String,
                                  reasons: inout [String]) -> Objective {
        var verdict = "none"
        if let target {
            if let measured, measured <= target {
                verdict = "pass"
            } else {
                verdict = "fail"
                reasons.append(measured.map { "\(name) \(Formatted.duration($0)) exceeds the target of \(Formatted.duration(target))" }
                    ?? "\(name) could not be measured, so the target of \(Formatted.duration(target)) is not proven")
            }
        }
        return Objective(measuredSeconds: measured, targetSeconds: target, verdict: verdict, method: method)
    }
}
