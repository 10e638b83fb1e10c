import Foundation
import GRDB

/// One message to one channel, as the catalog keeps it (never its content or the channel's secrets).
public struct DeliveryRecord: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "deliveries"

    public var id: Int64?
    public var runId: String
    public var plan: String
    public var channel: String
    public var event: String
    /// PagerDuty: `trigger`, `resolve`, or nil (a change event / not PagerDuty).
    public var action: String?
    public var dedupKey: String?
    public var delivered: Bool
    public var attempts: Int
    public var httpStatus: Int?
    public var error: String?
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case id, plan, channel, event, action, delivered, attempts, error
        case runId = "run_id", dedupKey = "dedup_key", httpStatus = "http_status", createdAt = "created_at"
    }
}

extension Catalog {
    public func insert(_ delivery: DeliveryRecord) throws {
        try write { db in try delivery.insert(db) }
    }

    public func deliveries(run: String) throws -> [DeliveryRecord] {
        try read { db in try DeliveryRecord.filter(Column("run_id") == run).order(Column("id")).fetchAll(db) }
    }

    /// PagerDuty incidents this plan opened (delivered `trigger`s) that no `resolve` has closed yet, by channel.
    func openIncidents(plan: String) throws -> [(channel: String, dedupKey: String)] {
        try read { db in
            let rows = try DeliveryRecord.filter(Column("plan") == plan && Column("delivered") == true && Column("action") != nil)
                .order(Column("id")).fetchAll(db)
            var open: [String: (String, String)] = [:]
            for row in rows {
                guard let key = row.dedupKey else { continue }
                if row.action == "trigger" { open[row.channel + "\u{0}" + key] = (row.channel, key) }
                if row.action == "resolve" { open[row.channel + "\u{0}" + key] = nil }
            }
            return open.values.map { ($0.0, $0.1) }.sorted { $0.1 < $1.1 }
        }
    }
}
