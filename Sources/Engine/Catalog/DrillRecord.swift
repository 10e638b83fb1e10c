import Foundation
import GRDB
import LifeboatCore

/// A drill's verdict and report, as the catalog keeps it (`lifeboat drills`, `lifeboat status`).
public struct DrillRecord: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "drills"

    public var runId: String
    public var plan: String
    public var startedAt: Date
    public var verdict: String
    /// The databases it restored, comma-separated.
    public var databases: String
    public var rpoSeconds: Double?
    public var rtoSeconds: Double?
    public var projectedRTOSeconds: Double?
    /// The report as JSON.
    public var report: String

    enum CodingKeys: String, CodingKey {
        case plan, verdict, databases, report
        case runId = "run_id", startedAt = "started_at", rpoSeconds = "rpo_seconds", rtoSeconds = "rto_seconds"
        case projectedRTOSeconds = "projected_rto_seconds"
    }

    public init(_ report: DrillReport) {
        runId = report.runId
        plan = report.plan
        startedAt = report.startedAt
        verdict = report.verdict.rawValue
        databases = report.restores.map(\.database).joined(separator: ",")
        rpoSeconds = report.rpo.measuredSeconds
        rtoSeconds = report.rto.measuredSeconds
        projectedRTOSeconds = report.projection?.projectedRTOSeconds
        self.report = report.json
    }

    public func decodedReport() throws -> DrillReport {
        try DrillReport.decoder.decode(DrillReport.self, from: Data(report.utf8))
    }
}

extension Catalog {
    public func insert(_ drill: DrillRecord) throws {
        try write { db in try drill.save(db) }
    }

    /// Drills, newest first.
    public func drills(limit: Int = 50) throws -> [DrillRecord] {
        try read { db in try DrillRecord.order(Column("started_at").desc).limit(limit).fetchAll(db) }
    }

    /// The drill of this run id, or of the one run id that starts with it.
    public func drill(_ idOrPrefix: String) throws -> DrillRecord {
        let matches = try read { db in
            try DrillRecord.filter(Column("run_id") == idOrPrefix || Column("run_id").like(idOrPrefix + "%")).limit(2).fetchAll(db)
        }
        if let exact = matches.first(where: { $0.runId == idOrPrefix }) { return exact }
        guard matches.count == 1 else {
            throw LifeboatError(matches.isEmpty ? .notFound : .invalidInput,
                                matches.isEmpty ? "no drill '\(idOrPrefix)' in \(state.catalogPath)" : "drill id '\(idOrPrefix)' is ambiguous",
                                hint: "`lifeboat drills list` shows the recorded drills")
        }
        return matches[0]
    }
}
