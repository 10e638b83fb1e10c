import Foundation
import LifeboatCore
import Plans
import LifeboatCrypto

/// The evidence of one drill and its verdict: what was restored, how long each phase took, what each check found,
/// the RPO and RTO measured against the plan's targets, and a projection of the RTO at the database's current size.
public struct DrillReport: Codable, Sendable {
    /// A drill's or an objective's outcome; the raw values are what reports and the catalog store.
    public enum Verdict: String, Codable, Sendable {
        case pass, fail
        /// An objective without a target (never a drill's verdict).
        case none

        /// `PASS`, `FAIL`, `NONE`, as reports and notifications show it.
        public var shown: String { rawValue.uppercased() }
    }

    public struct Objective: Codable, Sendable {
        /// nil when it could not be measured (then it is not met).
        public var measuredSeconds: Double?
        public var targetSeconds: Double?
        public var verdict: Verdict
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
    public var verdict: Verdict
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

    public var passed: Bool { verdict == .pass }

    enum CodingKeys: String, CodingKey {
        case plan, verdict, reasons, warnings, rpo, rto, phases, projection, restores, checks, steps, host, trigger
        case runId = "run_id", planFile = "plan_file", planDigest = "plan_digest", ranBy = "ran_by"
        case startedAt = "started_at", endedAt = "ended_at", evidenceDigest = "evidence_digest"
    }
}

extension DrillReport {
    /// Builds the report of a finished drill run: what failed, the RTO and the RPO against the plan's targets,
    /// the phases, and the projection of the RTO at the database's current size.
    public static func build(plan: Plan, run: RunRecord, steps: [StepRecord], session: RunSession) -> DrillReport {
        let restores = session.restores
        let checks = session.checks
        var (reasons, warnings) = failures(run: run, session: session)
        let rto = rto(plan: plan, run: run, session: session, reasons: &reasons)
        let rpo = rpo(plan: plan, run: run, session: session, reasons: &reasons)
        let projection = projection(plan: plan, session: session, rtoSeconds: rto.measuredSeconds)
        if let warning = projection?.warning { warnings.append(warning) }
        let timings = steps.map { step in
            StepTiming(id: step.stepId, uses: step.uses, status: step.status.rawValue, startedAt: step.startedAt,
                       seconds: step.startedAt.flatMap { start in step.endedAt.map { $0.timeIntervalSince(start) } },
                       error: step.error)
        }
        var report = DrillReport(
            runId: run.id, plan: plan.name, planFile: plan.file, planDigest: plan.digest, ranBy: run.osUser,
            host: run.host, trigger: run.trigger.rawValue, startedAt: run.startedAt, endedAt: run.endedAt ?? Date(),
            verdict: reasons.isEmpty ? .pass : .fail, reasons: reasons, warnings: warnings, rpo: rpo, rto: rto,
            phases: phases(session: session), projection: projection, restores: restores, checks: checks, steps: timings,
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
}
