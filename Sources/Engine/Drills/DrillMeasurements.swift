import Foundation
import LifeboatCore
import Plans

/// How a drill's evidence becomes its objectives: each measurement in a function of its own, with the method it
/// used written into the report so that an auditor can follow it.
extension DrillReport {
    /// What makes the drill fail whatever its objectives (an incomplete run, failed checks, nothing proven), and
    /// what only warns (checks that could not be decided).
    static func failures(run: RunRecord, session: RunSession) -> (reasons: [String], warnings: [String]) {
        var reasons: [String] = []
        var warnings: [String] = []
        if run.status != .succeeded {
            reasons.append("the drill did not complete: " + (run.error ?? run.status.rawValue))
        }
        for check in session.checks where check.passed == false {
            reasons.append("check '\(check.name)' failed: expected \(check.expectation), got \(check.actual)")
        }
        for check in session.checks where check.passed == nil {
            warnings.append("check '\(check.name)' could not be decided: \(check.detail ?? "no result")")
        }
        if session.restores.isEmpty && session.checks.isEmpty {
            reasons.append("nothing was restored or checked: the drill proves nothing")
        }
        return (reasons, warnings)
    }

    /// RTO: wall time from the drill's start until the restored server passed its checks; not measured when the
    /// drill did not complete or a check failed.
    static func rto(plan: Plan, run: RunRecord, session: RunSession, reasons: inout [String]) -> Objective {
        let restores = session.restores, checks = session.checks
        let checksPassed = !checks.contains { $0.passed == false }
        let finished = (checks.map(\.finishedAt) + restores.map(\.readyAt)).max()
        let seconds = run.status == .succeeded && checksPassed && !(restores.isEmpty && checks.isEmpty)
            ? finished.map { $0.timeIntervalSince(run.startedAt) } : nil
        return objective(seconds, target: plan.targets?.rto?.seconds, name: "RTO",
                         method: restores.isEmpty
                             ? "wall time from the drill's start until its health checks passed"
                             : "wall time from the drill's start until the restored server passed its checks",
                         reasons: &reasons)
    }

    /// RPO: committed work a disaster at the drill's start would have lost: from the restored heartbeat, else the
    /// last replayed commit (an upper bound), and the stalest mirror when that is worse. A gap in the archive fails it
    /// whatever was measured: recovery would stop before the disaster's moment.
    static func rpo(plan: Plan, run: RunRecord, session: RunSession, reasons: inout [String]) -> Objective {
        let restores = session.restores
        var seconds: Double?
        var method = "not measured: no restore"
        if let first = restores.first {
            let disaster = first.archiveCutoff ?? run.startedAt
            if let beat = first.restoredHeartbeat {
                seconds = max(0, disaster.timeIntervalSince(beat))
                method = "heartbeat: the drill restored the archive as it was at its start "
                    + "(\(Formatted.preciseTimestamp(disaster))); the newest heartbeat the restored server has is "
                    + Formatted.preciseTimestamp(beat)
                    + (first.sourceHeartbeat.map { ", the source's was \(Formatted.preciseTimestamp($0))" } ?? "")
                    + ". RPO = drill start − restored heartbeat (its resolution is the heartbeat interval)"
            } else if let commit = first.lastReplayedCommit {
                seconds = max(0, disaster.timeIntervalSince(commit))
                method = "last replayed commit (\(Formatted.preciseTimestamp(commit))) against the drill's start "
                    + "(\(Formatted.preciseTimestamp(disaster))); an upper bound: an idle source has no newer commits "
                    + "to lose. Add a postgres.heartbeat step for a sharper figure"
            } else {
                method = "not measured: the restored server has no heartbeat and replayed no transaction"
            }
        }
        if let stalest = session.mirrorAges.max(by: { $0.seconds < $1.seconds }) {
            let text = "mirror freshness: \(stalest.mirror) last synced \(Formatted.duration(stalest.seconds)) before the check"
            if restores.isEmpty {
                seconds = stalest.seconds
                method = text
            } else if let database = seconds, stalest.seconds > database {
                seconds = stalest.seconds
                method = text + " (the databases' own exposure is smaller); " + method
            } else {
                method += "; " + text
            }
        }
        var rpo = objective(seconds, target: plan.targets?.rpo?.seconds, name: "RPO", method: method, reasons: &reasons)
        for (database, gap) in session.walGaps {
            rpo.verdict = .fail
            rpo.method = "not met: the archive of \(database) has a gap (\(gap))"
            reasons.append("RPO not met: the archive of \(database) has a gap: \(gap)")
        }
        return rpo
    }

    /// The RTO's phases: per restore fetch-and-write, start-up and replay, then the checks.
    static func phases(session: RunSession) -> [Phase] {
        var phases: [Phase] = []
        let restores = session.restores
        for restore in restores {
            let suffix = restores.count > 1 ? " (\(restore.database))" : ""
            phases.append(Phase(name: "fetch, decrypt, decompress, write" + suffix, seconds: restore.restoreSeconds,
                                bytes: restore.restoredBytes))
            phases.append(Phase(name: "server start-up" + suffix, seconds: restore.startupSeconds, bytes: nil))
            phases.append(Phase(name: "WAL replay until writable" + suffix, seconds: restore.replaySeconds, bytes: nil))
        }
        if !session.checks.isEmpty {
            phases.append(Phase(name: "checks", seconds: session.checks.reduce(0) { $0 + $1.seconds }, bytes: nil))
        }
        return phases
    }

    /// The RTO at the database's current size and measured restore rate, and when growth makes it reach the
    /// target; nil without a measured RTO or restore.
    static func projection(plan: Plan, session: RunSession, rtoSeconds: Double?) -> Projection? {
        guard let restore = session.restores.first, restore.restoreSeconds > 0, restore.restoredBytes > 0, let rtoSeconds
        else { return nil }
        let rate = Double(restore.restoredBytes) / restore.restoreSeconds
        let current = restore.sourceBytes ?? restore.backupLogicalBytes
        let projected = rtoSeconds - restore.restoreSeconds + Double(current) / rate
        var days: Double?
        var warning: String?
        if let rtoTarget = plan.targets?.rto?.seconds {
            if projected > rtoTarget {
                warning = "at its current size (\(Formatted.bytes(current))) this database would take "
                    + "\(Formatted.duration(projected)) to recover, over the RTO target of \(Formatted.duration(rtoTarget))"
            } else if let growth = restore.growthBytesPerDay, growth > 0 {
                days = (rtoTarget - projected) / (growth / rate)
                if let days, days < 90 {
                    warning = "at its growth of \(Formatted.bytes(Int64(growth))) a day, the projected RTO reaches the "
                        + "target in about \(Int(days)) days"
                }
            }
        }
        return Projection(currentBytes: current, restoreBytesPerSecond: rate, projectedRTOSeconds: projected,
                          growthBytesPerDay: restore.growthBytesPerDay, daysUntilTarget: days, warning: warning)
    }

    /// Pass when measured inside the target, fail when over it or not measured, none without a target.
    static func objective(_ measured: Double?, target: Double?, name: String, method: String,
                          reasons: inout [String]) -> Objective {
        var verdict = Verdict.none
        if let target {
            if let measured, measured <= target {
                verdict = .pass
            } else {
                verdict = .fail
                reasons.append(measured.map { "\(name) \(Formatted.duration($0)) exceeds the target of \(Formatted.duration(target))" }
                    ?? "\(name) could not be measured, so the target of \(Formatted.duration(target)) is not proven")
            }
        }
        return Objective(measuredSeconds: measured, targetSeconds: target, verdict: verdict, method: method)
    }
}
