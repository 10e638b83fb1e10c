import Foundation
import Plans
import Postgres
import Repository
import LifeboatCore

/// `postgres.promote`: promotes a standby of the inventory and waits until it accepts writes.
enum PostgresPromoteStep {
    static let schema = StepSchema(
        name: "postgres.promote",
        summary: "promote a standby (pg_promote) and wait until it accepts writes",
        parameters: [
            ParameterSpec("database", .reference(.databases), required: true, "the standby to promote"),
            ParameterSpec("max_lag", .byteSize, "refuse when the standby has more WAL than this received but not replayed (default 16MiB)"),
            ParameterSpec("force", .boolean, "promote even when the lag is larger"),
            ParameterSpec("wait", .duration, "how long to wait for the promotion (default 60s)"),
        ],
        example: "    with: { database: orders-standby }"
    )

    static let type = StepType(schema: schema) { context in
        let entry = try context.inventoryEntry(.databases, "database")
        let conninfo = try Conninfo.build(entry, secrets: context.secrets)
        let maxLag = context.step.parameters["max_lag"].flatMap { value -> Int64? in
            if case .byteSize(let size) = value { return Int64(size.bytes) }
            return nil
        } ?? 16 << 20
        let force = context.step.parameters["force"]?.booleanValue ?? false
        let wait = context.step.parameters["wait"]?.durationValue.map { Int($0.milliseconds / 1000) } ?? 60
        let result = try await Blocking.run { stop -> (String, String, Int64) in
            let connection = try PostgresConnection(conninfo: conninfo + " connect_timeout=10")
            defer { connection.close() }
            guard try connection.query("SELECT pg_is_in_recovery()").scalar == "t" else {
                throw LifeboatError(.runFailed, "\(entry.name) is not a standby: it already accepts writes; not promoting it",
                                    hint: "check the inventory: the plan may name the primary instead of the standby")
            }
            let lag = Int64(try connection.query("""
                SELECT coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::bigint
                """).scalar ?? "0") ?? 0
            if lag > maxLag && !force {
                throw LifeboatError(.runFailed, "\(entry.name) has \(lag) bytes of WAL received but not replayed (more than "
                    + "max_lag \(maxLag)); not promoting it", hint: "wait for replay to catch up, or set force: true")
            }
            guard try connection.query("SELECT pg_promote(true, \(wait))").scalar == "t" else {
                throw LifeboatError(.runFailed, "\(entry.name) did not finish promoting within \(wait) s")
            }
            let deadline = Date().addingTimeInterval(TimeInterval(wait))
            while Date() < deadline && !stop.isSet {
                let row = try connection.query("SELECT pg_is_in_recovery()::text, current_setting('transaction_read_only')").rows.first
                if row?[0] == "false" && row?[1] == "off" { break }
                usleep(100_000)
            }
            let position = try connection.query("SELECT pg_current_wal_lsn()::text, pg_walfile_name(pg_current_wal_lsn())").rows.first
            let lsn = (position?[0] ?? nil) ?? "?"
            let timeline = String(((position?[1] ?? nil) ?? "?").prefix(8))
            return (lsn, timeline, lag)
        }
        context.output.note("promoted \(entry.name): accepts writes on timeline \(Int(result.1, radix: 16) ?? 0) "
            + "from LSN \(result.0) (replay lag before promotion: \(result.2) bytes)")
    }
}

/// `postgres.fence`: makes sure the old primary cannot accept writes: runs the fencing command and, when the
/// database is named, checks that it no longer accepts writes. Its failure stops the plan (split-brain is worse
/// than downtime) unless the step says `on_failure: continue`.
enum PostgresFenceStep {
    static let schema = StepSchema(
        name: "postgres.fence",
        summary: "fence the old primary (a command) and check that it no longer accepts writes",
        parameters: [
            ParameterSpec("command", .list(.string), "the fencing command, e.g. [ssh, db1, pg_ctlcluster, 15, main, stop, -m, fast]"),
            ParameterSpec("env", .stringMap, "extra environment for the command"),
            ParameterSpec("database", .reference(.databases), "the old primary: checked to accept no writes afterwards"),
        ],
        example: "    with: { command: [ssh, db1, systemctl, stop, postgresql], database: orders-primary }"
    )

    static let type = StepType(schema: schema) { context in
        if context.step.parameters["command"] != nil {
            try await ExecStep.run(context)
        }
        guard context.step.parameters["database"] != nil else { return }
        let entry = try context.inventoryEntry(.databases, "database")
        let conninfo = try Conninfo.build(entry, secrets: context.secrets)
        let writable = try await Blocking.run { _ -> Bool in
            guard let connection = try? PostgresConnection(conninfo: conninfo + " connect_timeout=5") else { return false }
            defer { connection.close() }
            let row = try? connection.query("SELECT pg_is_in_recovery()::text, current_setting('transaction_read_only')").rows.first
            return row?[0] == "false" && row?[1] == "off"
        }
        if writable {
            throw LifeboatError(.runFailed, "\(entry.name) still accepts writes after fencing: promoting a standby now "
                + "would split the brain; the plan stops here", hint: "stop the old primary by hand, then `lifeboat resume RUN`")
        }
        context.output.note("\(entry.name) accepts no writes (unreachable or read-only)")
    }
}

/// `postgres.rebaseline`: after a promotion, a new base backup of the new primary, and proof that WAL archiving goes
/// on on its timeline (its `.history` file reached the repository).
enum PostgresRebaselineStep {
    static let schema = StepSchema(
        name: "postgres.rebaseline",
        summary: "back up the new primary and check that its new timeline is archived",
        parameters: [
            ParameterSpec("database", .reference(.databases), required: true),
            ParameterSpec("repository", .reference(.repositories), required: true),
            ParameterSpec("wait", .duration, "how long to wait for the timeline's history file in the archive (default 2m)"),
        ],
        example: "    with: { database: orders-standby, repository: primary }"
    )

    static let type = StepType(schema: schema) { context in
        let entry = try context.inventoryEntry(.databases, "database")
        let repositoryEntry = try context.inventoryEntry(.repositories, "repository")
        let conninfo = try Conninfo.build(entry, secrets: context.secrets)
        let repository = try RepositoryAccess.open(repositoryEntry, secrets: context.secrets)
        let wait = context.step.parameters["wait"]?.durationValue.map { Double($0.milliseconds) / 1000 } ?? 120
        let manifest = try await Blocking.run { stop in
            var options = BaseBackup.Options(conninfo: conninfo, source: entry.name)
            options.shouldStop = { stop.isSet }
            return try BaseBackup.run(into: repository, options: options)
        }
        let history = String(format: "%08X.history", manifest.timeline)
        if manifest.timeline > 1 {
            let deadline = Date().addingTimeInterval(wait)
            let cluster = manifest.systemIdentifier
            while try !repository.hasWAL(name: history, cluster: cluster) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            guard try repository.hasWAL(name: history, cluster: cluster) else {
                throw LifeboatError(.runFailed, "the new timeline's \(history) did not reach \(repositoryEntry.name) within "
                    + "\(Int(wait)) s: WAL archiving is not running on \(entry.name)",
                    hint: "set archive_mode = on and archive_command to `lifeboat wal push` on the new primary")
            }
        }
        // The timelines this failover left behind: retention lets their backups age out with the new timeline's.
        if manifest.timeline > 1 {
            let cluster = manifest.systemIdentifier
            let timeline = UInt32(manifest.timeline)
            try LifeboatError.wrapping { () throws(RepositoryError) in
                let archived = try repository.archivedTimelines(cluster: cluster).first { $0.timeline == timeline }
                if let ancestors = archived?.history?.ancestors.map(\.parent) {
                    try repository.noteFailover(cluster, superseded: ancestors)
                }
            }
        }
        context.output.note("\(entry.name) is protected again: backup \(manifest.id) on timeline \(manifest.timeline)"
            + (manifest.timeline > 1 ? ", \(history) archived" : ""))
    }
}
