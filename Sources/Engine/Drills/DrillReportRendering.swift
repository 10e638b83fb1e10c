import Foundation
import LifeboatCore

extension DrillReport {
    /// The report as Markdown: for a ticket, a wiki page or an e-mail.
    public var markdown: String {
        var out: [String] = []
        out.append("# Drill report: \(plan) — \(verdict.shown)")
        out.append("")
        out.append("| | |")
        out.append("|---|---|")
        out.append("| Run | `\(runId)` |")
        out.append("| Plan | `\(planFile)` (sha256 `\(planDigest.prefix(16))…`) |")
        out.append("| Ran by | \(ranBy) on \(host) (\(trigger)) |")
        out.append("| Started | \(Formatted.timestamp(startedAt)) |")
        out.append("| Ended | \(Formatted.timestamp(endedAt)) |")
        out.append("| Evidence digest | `\(evidenceDigest)` |")
        out.append("")
        out.append("## Verdict: \(verdict.shown)")
        out.append("")
        for reason in reasons { out.append("- FAIL: \(reason)") }
        for warning in warnings { out.append("- WARNING: \(warning)") }
        if reasons.isEmpty && warnings.isEmpty { out.append("Every objective was met and every check passed.") }
        out.append("")
        out.append("## Objectives")
        out.append("")
        out.append("| Objective | Measured | Target | Result |")
        out.append("|---|---|---|---|")
        for (name, objective) in [("RPO", rpo), ("RTO", rto)] {
            out.append("| \(name) | \(objective.measuredSeconds.map { Formatted.duration($0) } ?? "not measured") | "
                + "\(objective.targetSeconds.map { Formatted.duration($0) } ?? "none") | \(objective.verdict.shown) |")
        }
        out.append("")
        out.append("- RPO method: \(rpo.method)")
        out.append("- RTO method: \(rto.method)")
        if let projection {
            out.append("- Projection: at its current size (\(Formatted.bytes(projection.currentBytes))) and the measured restore "
                + "rate (\(Formatted.rate(projection.restoreBytesPerSecond))), the RTO would be "
                + "\(Formatted.duration(projection.projectedRTOSeconds))"
                + (projection.growthBytesPerDay.map { "; growth \(Formatted.bytes(Int64($0))) a day" } ?? ""))
        }
        out.append("")
        out.append("## RTO breakdown")
        out.append("")
        out.append("| Phase | Duration | Bytes | Throughput |")
        out.append("|---|---|---|---|")
        for phase in phases {
            out.append("| \(phase.name) | \(Formatted.duration(phase.seconds)) | \(phase.bytes.map { Formatted.bytes($0) } ?? "") | "
                + "\(phase.throughput.map { Formatted.rate($0) } ?? "") |")
        }
        out.append("")
        out.append("## Restores")
        for restore in restores {
            out.append("")
            out.append("### \(restore.database) (step `\(restore.step)`)")
            out.append("")
            out.append("- Backup `\(restore.backupId)` from repository `\(restore.repository)`, finished "
                + "\(Formatted.preciseTimestamp(restore.backupTime)); \(Formatted.bytes(restore.backupLogicalBytes)) of data")
            out.append("- Recovery target: \(restore.target)")
            if let cutoff = restore.archiveCutoff {
                out.append("- Archive as of \(Formatted.preciseTimestamp(cutoff)): WAL archived later was not used")
            }
            out.append("- Restored \(restore.restoredFiles) files, \(Formatted.bytes(restore.restoredBytes)); WAL replayed from "
                + "\(restore.replayedFrom ?? "?") to \(restore.replayedUpTo ?? "?"), then timeline \(restore.timeline ?? "?")")
            if let commit = restore.lastReplayedCommit { out.append("- Last replayed commit: \(Formatted.preciseTimestamp(commit))") }
            if let beat = restore.restoredHeartbeat { out.append("- Heartbeat on the restored server: \(Formatted.preciseTimestamp(beat))") }
            if let beat = restore.sourceHeartbeat { out.append("- Heartbeat on the source at the drill's start: \(Formatted.preciseTimestamp(beat))") }
        }
        out.append("")
        out.append("## Checks")
        out.append("")
        if checks.isEmpty {
            out.append("No checks ran.")
        } else {
            out.append("| Check | Expectation | Result | Outcome |")
            out.append("|---|---|---|---|")
            for check in checks {
                let outcome = check.passed.map { $0 ? "PASS" : "FAIL" } ?? "UNDECIDED"
                out.append("| \(Self.cell(check.name)) | \(Self.cell(check.expectation)) | \(Self.cell(check.actual)) | \(outcome) |")
            }
        }
        out.append("")
        out.append("## Timeline")
        out.append("")
        out.append("| Step | Type | Status | Started | Duration |")
        out.append("|---|---|---|---|---|")
        for step in steps {
            out.append("| \(step.id) | \(step.uses) | \(step.status) | \(step.startedAt.map { Formatted.preciseTimestamp($0) } ?? "") | "
                + "\(step.seconds.map { Formatted.duration($0) } ?? "") |")
        }
        out.append("")
        return out.joined(separator: "\n")
    }

    /// A self-contained, printable HTML page (no external assets).
    public var html: String {
        func e(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func row(_ cells: [String], header: Bool = false) -> String {
            let tag = header ? "th" : "td"
            return "<tr>" + cells.map { "<\(tag)>\(e($0))</\(tag)>" }.joined() + "</tr>"
        }
        let colour = passed ? "#1a7f37" : "#cf222e"
        var out = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Drill report: \(e(plan)) — \(verdict.shown)</title>
            <style>
            body{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;color:#1f2328}
            table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #d0d7de;padding:.3em .6em;text-align:left}
            .verdict{color:#fff;background:\(colour);padding:.2em .6em;border-radius:.3em}
            code{font-size:.9em}@media print{body{margin:0}}
            </style></head><body>
            <h1>Drill report: \(e(plan)) <span class="verdict">\(verdict.shown)</span></h1>

            """
        out += "<table>"
        for (name, value) in [("Run", runId), ("Plan", "\(planFile) (sha256 \(planDigest))"), ("Ran by", "\(ranBy) on \(host) (\(trigger))"),
                              ("Started", Formatted.timestamp(startedAt)), ("Ended", Formatted.timestamp(endedAt)), ("Evidence digest", evidenceDigest)] {
            out += row([name, value])
        }
        out += "</table>\n<h2>Verdict</h2><ul>"
        for reason in reasons { out += "<li><strong>FAIL:</strong> \(e(reason))</li>" }
        for warning in warnings { out += "<li><strong>WARNING:</strong> \(e(warning))</li>" }
        if reasons.isEmpty && warnings.isEmpty { out += "<li>Every objective was met and every check passed.</li>" }
        out += "</ul>\n<h2>Objectives</h2><table>" + row(["Objective", "Measured", "Target", "Result", "Method"], header: true)
        for (name, objective) in [("RPO", rpo), ("RTO", rto)] {
            out += row([name, objective.measuredSeconds.map { Formatted.duration($0) } ?? "not measured",
                        objective.targetSeconds.map { Formatted.duration($0) } ?? "none", objective.verdict.shown, objective.method])
        }
        out += "</table>"
        if let projection {
            out += "<p>Projected RTO at the current size (\(e(Formatted.bytes(projection.currentBytes)))): "
                + "\(e(Formatted.duration(projection.projectedRTOSeconds))).</p>"
        }
        out += "\n<h2>RTO breakdown</h2><table>" + row(["Phase", "Duration", "Bytes", "Throughput"], header: true)
        for phase in phases {
            out += row([phase.name, Formatted.duration(phase.seconds), phase.bytes.map { Formatted.bytes($0) } ?? "",
                        phase.throughput.map { Formatted.rate($0) } ?? ""])
        }
        out += "</table>\n<h2>Restores</h2><table>" + row(["Database", "Backup", "Target", "Restored", "WAL replayed"], header: true)
        for restore in restores {
            out += row([restore.database, "\(restore.backupId) (\(restore.repository))", restore.target,
                        "\(restore.restoredFiles) files, \(Formatted.bytes(restore.restoredBytes))",
                        "\(restore.replayedFrom ?? "?") to \(restore.replayedUpTo ?? "?")"])
        }
        out += "</table>\n<h2>Checks</h2><table>" + row(["Check", "SQL", "Expectation", "Result", "Outcome"], header: true)
        for check in checks {
            out += row([check.name, check.sql, check.expectation, check.actual,
                        check.passed.map { $0 ? "PASS" : "FAIL" } ?? "UNDECIDED"])
        }
        out += "</table>\n<h2>Timeline</h2><table>" + row(["Step", "Type", "Status", "Started", "Duration"], header: true)
        for step in steps {
            out += row([step.id, step.uses, step.status, step.startedAt.map { Formatted.preciseTimestamp($0) } ?? "",
                        step.seconds.map { Formatted.duration($0) } ?? ""])
        }
        out += "</table>\n</body></html>\n"
        return out
    }

    public var json: String {
        (try? Self.encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }


    static func cell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
