import Foundation
import GRDB
import LifeboatCore

/// The local record of runs and steps: SQLite (WAL mode) in the state directory, through GRDB.
///
/// The catalog is a cache of what happened; it never holds a secret. Its schema changes only through the
/// migrations below, each applied once, in order.
public final class Catalog: Sendable {
    private let pool: DatabasePool
    public let state: StateDirectory

    public init(state: StateDirectory) throws {
        try state.prepare()
        self.state = state
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            pool = try DatabasePool(path: state.catalogPath, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw LifeboatError(.state, "cannot open the catalog \(state.catalogPath): \(error)",
                                hint: "the catalog is a cache; move it aside and Lifeboat starts a new one")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs and steps") { db in
            try db.create(table: "runs") { table in
                table.primaryKey("id", .text)
                table.column("plan", .text).notNull().indexed()
                table.column("plan_file", .text).notNull()
                table.column("plan_digest", .text).notNull()
                table.column("kind", .text).notNull()
                table.column("trigger", .text).notNull()
                table.column("os_user", .text).notNull()
                table.column("host", .text).notNull()
                table.column("pid", .integer).notNull()
                table.column("started_at", .datetime).notNull().indexed()
                table.column("ended_at", .datetime)
                table.column("status", .text).notNull()
                table.column("error", .text)
                table.column("log_file", .text).notNull()
            }
            try db.create(table: "steps") { table in
                table.column("run_id", .text).notNull().references("runs", onDelete: .cascade)
                table.column("step_id", .text).notNull()
                table.column("phase", .text).notNull()
                table.column("position", .integer).notNull()
                table.column("uses", .text).notNull()
                table.column("status", .text).notNull()
                table.column("started_at", .datetime)
                table.column("ended_at", .datetime)
                table.column("attempts", .integer).notNull().defaults(to: 0)
                table.column("output_tail", .text)
                table.column("error", .text)
                table.column("ignored_failure", .boolean).notNull().defaults(to: false)
                table.primaryKey(["run_id", "step_id"])
            }
        }
        migrator.registerMigration("v2: drills") { db in
            try db.create(table: "drills") { table in
                table.primaryKey("run_id", .text).references("runs", onDelete: .cascade)
                table.column("plan", .text).notNull().indexed()
                table.column("started_at", .datetime).notNull().indexed()
                table.column("verdict", .text).notNull()
                table.column("databases", .text).notNull()
                table.column("rpo_seconds", .double)
                table.column("rto_seconds", .double)
                table.column("projected_rto_seconds", .double)
                table.column("report", .text).notNull()
            }
        }
        migrator.registerMigration("v3: git mirrors") { db in
            try db.create(table: "git_syncs") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("run_id", .text).notNull().indexed()
                table.column("source", .text).notNull()
                table.column("destination", .text).notNull()
                table.column("started_at", .datetime).notNull()
                table.column("ended_at", .datetime).notNull()
                table.column("succeeded", .boolean).notNull()
                table.column("refs", .integer).notNull()
                table.column("refs_changed", .integer).notNull()
                table.column("preserved", .integer).notNull()
                table.column("bytes", .integer).notNull()
                table.column("error", .text)
            }
            try db.create(index: "git_syncs_by_mirror", on: "git_syncs", columns: ["source", "destination", "ended_at"])
            try db.create(table: "git_preserved") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("run_id", .text).notNull()
                table.column("source", .text).notNull().indexed()
                table.column("destination", .text).notNull()
                table.column("ref", .text).notNull()
                table.column("preserved_as", .text).notNull()
                table.column("sha", .text).notNull()
                table.column("reason", .text).notNull()
                table.column("preserved_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v4: deliveries") { db in
            try db.create(table: "deliveries") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("run_id", .text).notNull().indexed()
                table.column("plan", .text).notNull().indexed()
                table.column("channel", .text).notNull()
                table.column("event", .text).notNull()
                table.column("action", .text)
                table.column("dedup_key", .text)
                table.column("delivered", .boolean).notNull()
                table.column("attempts", .integer).notNull()
                table.column("http_status", .integer)
                table.column("error", .text)
                table.column("created_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v5: schedules") { db in
            try db.create(table: "schedule_state") { table in
                table.primaryKey("plan", .text)
                table.column("last_fire", .datetime).notNull()
                table.column("next_fire", .datetime)
                table.column("updated_at", .datetime).notNull()
            }
            try db.create(table: "rpo_state") { table in
                table.primaryKey("database", .text)
                table.column("breached", .boolean).notNull()
                table.column("since", .datetime).notNull()
            }
        }
        return migrator
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T { try pool.write(body) }
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T { try pool.read(body) }

    // MARK: - Writing

    public func insert(_ run: RunRecord, steps: [StepRecord]) throws {
        try pool.write { db in
            try run.insert(db)
            for step in steps { try step.insert(db) }
        }
    }

    /// Inserts step records, or replaces them (a resumed run records its steps again).
    public func insertSteps(_ steps: [StepRecord]) throws {
        try pool.write { db in
            for step in steps { try step.save(db) }
        }
    }

    public func update(_ run: RunRecord) throws {
        try pool.write { db in try run.update(db) }
    }

    public func update(_ step: StepRecord) throws {
        try pool.write { db in try step.update(db) }
    }

    /// Marks runs of `plan` still shown as running, other than `except`, as interrupted: the caller holds the plan's
    /// lock, so no other process can be running them.
    public func markInterrupted(plan: String, except: String? = nil) throws {
        try pool.write { db in
            let stale = try RunRecord.filter(Column("plan") == plan && Column("status") == RunStatus.running.rawValue)
                .fetchAll(db).filter { $0.id != except }
            try Self.interrupt(stale, db: db)
        }
    }

    // MARK: - Reading

    /// Runs, newest first. Runs whose process died are shown (and recorded) as `interrupted` first.
    public func runs(plan: String? = nil, limit: Int = 20) throws -> [RunRecord] {
        try reconcile()
        return try pool.read { db in
            var request = RunRecord.order(Column("started_at").desc, Column("id").desc)
            if let plan { request = request.filter(Column("plan") == plan) }
            return try request.limit(limit).fetchAll(db)
        }
    }

    /// The run with this id, or with an id that starts with it when only one does.
    public func run(_ idOrPrefix: String) throws -> (run: RunRecord, steps: [StepRecord]) {
        try reconcile()
        return try pool.read { db in
            var run = try RunRecord.fetchOne(db, key: idOrPrefix)
            if run == nil {
                let matches = try RunRecord.filter(Column("id").like(Self.escapeLike(idOrPrefix) + "%", escape: "\\"))
                    .limit(2).fetchAll(db)
                if matches.count > 1 {
                    throw LifeboatError(.invalidInput, "run id '\(idOrPrefix)' is ambiguous",
                                        hint: "give more characters of the id (see `lifeboat runs list`)")
                }
                run = matches.first
            }
            guard let run else {
                throw LifeboatError(.notFound, "no run '\(idOrPrefix)' in \(state.catalogPath)",
                                    hint: "`lifeboat runs list` shows the recorded runs")
            }
            let steps = try StepRecord.filter(Column("run_id") == run.id)
                .order(sql: "CASE phase WHEN 'main' THEN 0 WHEN 'on_success' THEN 1 ELSE 2 END, position")
                .fetchAll(db)
            return (run, steps)
        }
    }

    /// Finds runs recorded as running whose process is gone, and records them as interrupted.
    ///
    /// A run is alive while its plan's lock is held by the process that started it.
    public func reconcile() throws {
        try pool.write { db in
            let running = try RunRecord.filter(Column("status") == RunStatus.running.rawValue).fetchAll(db)
            let dead = running.filter { run in
                guard let holder = PlanLock.holder(plan: run.plan, in: state) else { return true }
                return holder.pid != run.pid
            }
            try Self.interrupt(dead, db: db)
        }
    }

    private static func interrupt(_ runs: [RunRecord], db: Database) throws {
        for var run in runs {
            run.status = .interrupted
            run.error = run.error ?? "the process running it (pid \(run.pid)) ended without finishing the run"
            try run.update(db)
            try db.execute(sql: """
                UPDATE steps SET status = ? WHERE run_id = ? AND status IN (?, ?)
                """, arguments: [StepStatus.interrupted.rawValue, run.id, StepStatus.running.rawValue,
                                 StepStatus.pending.rawValue])
        }
    }

    private static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }
}
