import Foundation
import Plans
import Postgres

/// The heartbeat table drills measure the RPO with: one row, its time updated by `postgres.heartbeat`.
enum Heartbeat {
    static let table = "lifeboat_heartbeat"

    /// The newest heartbeat, or nil when the table does not exist.
    static func read(_ connection: PostgresConnection) -> Date? {
        guard let exists = try? connection.query("SELECT to_regclass('\(table)') IS NOT NULL").scalar, exists == "t" else {
            return nil
        }
        return (try? connection.query("SELECT extract(epoch FROM max(beat))::text FROM \(table)").scalar)
            .flatMap { $0.flatMap(Double.init) }.map { Date(timeIntervalSince1970: $0) }
    }

    static func beat(_ connection: PostgresConnection) throws -> String {
        try connection.query("CREATE TABLE IF NOT EXISTS \(table) (id int PRIMARY KEY CHECK (id = 1), beat timestamptz NOT NULL)")
        return try connection.query("""
            INSERT INTO \(table) VALUES (1, clock_timestamp())
            ON CONFLICT (id) DO UPDATE SET beat = excluded.beat RETURNING beat::text
            """).scalar ?? ""
    }
}

/// `postgres.heartbeat`: writes the current time into the source's heartbeat table. Run it often (every minute,
/// from the scheduler or cron): a drill's RPO is measured by the newest heartbeat the restored server has.
enum PostgresHeartbeatStep {
    static let schema = StepSchema(
        name: "postgres.heartbeat",
        summary: "write the current time into the database's lifeboat_heartbeat table (for measured RPO)",
        parameters: [ParameterSpec("database", .reference(.databases), required: true)],
        example: "    with: { database: orders }"
    )

    static let type = StepType(schema: schema) { context in
        let database = try context.inventoryEntry(.databases, "database")
        let conninfo = try Conninfo.build(database, secrets: context.secrets)
        let beat = try await Blocking.run { _ in
            let connection = try PostgresConnection(conninfo: conninfo)
            defer { connection.close() }
            return try Heartbeat.beat(connection)
        }
        context.output.note("heartbeat \(beat) in \(database.name)")
    }
}
