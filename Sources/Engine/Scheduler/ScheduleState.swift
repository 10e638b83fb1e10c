import Foundation
import GRDB

/// A scheduled plan's last fire time (the last slot the daemon ran or deliberately skipped) and its next one.
/// Written before a run starts, so that a daemon restarted mid-run neither repeats nor forgets a slot.
public struct ScheduleStateRecord: Sendable, Codable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "schedule_state"

    public var plan: String
    public var lastFire: Date
    public var nextFire: Date?
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey {
        case plan
        case lastFire = "last_fire", nextFire = "next_fire", updatedAt = "updated_at"
    }
}

extension Catalog {
    public func scheduleState(plan: String) throws -> ScheduleStateRecord? {
        try read { db in try ScheduleStateRecord.fetchOne(db, key: plan) }
    }

    public func save(_ state: ScheduleStateRecord) throws {
        try write { db in try state.save(db) }
    }
}
