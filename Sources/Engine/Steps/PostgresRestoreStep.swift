import Foundation
import Plans
import Postgres
import Repository
import LifeboatCore

/// `postgres.restore` (drills): restores a database's backup into a scratch server on this host, starts it, waits
/// until recovery has ended and it accepts writes, and records what it measured for the drill report.
enum PostgresRestoreStep {
    static let schema = StepSchema(
        name: "postgres.restore",
        summary: "restore a database into a scratch server and wait until it accepts writes (drills)",
        parameters: [
            ParameterSpec("database", .reference(.databases), required: true),
            ParameterSpec("repository", .reference(.repositories), required: true),
            ParameterSpec("target", .string,
                          "drill-start (default: the archive as it was when the drill began), latest, or a UTC time"),
            ParameterSpec("backup", .string, "a backup id (default: the newest one before the target)"),
            ParameterSpec("cluster", .string,
                          "the cluster, by name or system identifier (default: the database's, by its running server's system identifier, else by name)"),
            ParameterSpec("directory", .string, "where scratch servers are created (default: the temporary folder)"),
            ParameterSpec("bin_dir", .string, "PostgreSQL 15's programs (default: LIFEBOAT_PG_BIN or /usr/lib/postgresql/15/bin)"),
        ],
        example: "    with: { database: orders, repository: primary }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let databaseEntry = try context.inventoryEntry(.databases, "database")
        let repositoryEntry = try context.inventoryEntry(.repositories, "repository")
        let sourceConninfo = try Conninfo.build(databaseEntry, secrets: context.secrets)
        let repository = try RepositoryAccess.open(repositoryEntry, secrets: context.secrets)
        let dbname = try databaseEntry.fields["dbname"]?.stringValue.map { try context.secrets.resolve($0) } ?? "postgres"
        let targetText = try context.string("target") ?? "drill-start"
        let drillStart = context.session.startedAt
        let cutoff: Date?
        var recoveryTarget = RecoveryTarget.latest
        switch targetText {
        case "drill-start": cutoff = drillStart
        case "latest": cutoff = nil
        default:
            guard Restore.parseTime(targetText) != nil else {
                throw LifeboatError(.invalidInput, "step '\(context.step.id)': cannot read target '\(targetText)'",
                                    hint: "use drill-start, latest or a time such as 2026-11-26T02:30:00Z")
            }
            cutoff = nil
            recoveryTarget = .time(targetText)
        }
        let target = recoveryTarget
        let backupId = try context.string("backup")
        let clusterSelector = try context.string("cluster")
        let parent = try context.string("directory")
        let binDirectory = try ServerUser.binDirectory(try context.string("bin_dir"))
        let keyFile = try repositoryEntry.fields["key_file"]?.stringValue.map { try context.secrets.resolve($0) }
        let session = context.session
        let secrets = context.secrets
        let step = context.step.id
        let output = context.output

        let evidence = try await Blocking.run { stop -> RestoreEvidence in
            // The source as it is at the drill's start, when it can be reached: heartbeat and size.
            let source = SourceFacts.read(conninfo: sourceConninfo)
            let selection = try chooseBackup(repository, database: databaseEntry, secrets: secrets, id: backupId,
                                             cluster: clusterSelector, target: target, cutoff: cutoff)
            let manifest = selection.manifest
            if let gap = selection.gap {
                session.recordWALGap(database: databaseEntry.name, gap: gap.description)
                throw LifeboatError(.damaged, "refusing to restore backup \(manifest.id) of \(databaseEntry.name): \(gap), "
                    + "before the drill's target; nothing was restored",
                    hint: "`lifeboat verify` lists what is missing from the archive")
            }
            let server = try ScratchServer(parent: parent, binDirectory: binDirectory)
            session.register(server, step: step, database: databaseEntry.name)
            output.note("restoring backup \(manifest.id) of \(databaseEntry.name) (cluster \(selection.cluster.label)) into "
                + "scratch folder \(server.folder), following \(selection.timelineReason)")
            for warning in selection.warnings { output.note("warning: \(warning)") }

            let owner = try ServerUser.owner()
            let key = try keyFile ?? exportKey(repository, into: server.folder, owner: owner)
            // The drill's lease on the cluster: expire removes nothing it reads while it runs.
            let lease = try LifeboatError.wrapping { () throws(RepositoryError) in
                try repository.takeRecoveryLease(cluster: manifest.systemIdentifier, purpose: "drill",
                                                 detail: "run \(session.runId), step \(step)")
            }
            let keeper = RecoveryLeaseKeeper(repository, lease: lease.id)
            session.registerLeaseEnd {
                keeper.stop()
                // Left behind, a lease only holds expire back until it lapses; nothing is lost.
                try? repository.endRecoveryLease(lease.id)
            }
            // An expiry running while the lease was taken has finished before anything is read.
            try LifeboatError.wrapping { () throws(RepositoryError) in try repository.settleRecoveryLease() }
            guard try LifeboatError.wrapping({ () throws(RepositoryError) in try repository.backupIds() }).contains(manifest.id) else {
                throw LifeboatError(.runFailed, "backup \(manifest.id) was expired while the drill began; run the drill again")
            }
            var command = try walFetchCommand(repository, cluster: manifest.systemIdentifier, keyFile: key,
                                              folder: server.folder, owner: owner) + " --lease \(lease.id)"
            if let cutoff { command += " --archived-before \(Formatted.preciseTimestamp(cutoff))" }
            var options = Restore.Options(destination: server.dataDirectory)
            options.workers = repository.store.preferredConcurrency
            options.backup = manifest.id
            options.target = target
            options.restoreCommand = command
            options.owner = owner
            options.shouldStop = { stop.isSet }
            let summary = try Restore.run(from: repository, selection: selection, options: options)
            try server.writeAccessRules()
            guard !stop.isSet else { throw CancellationError() }

            let started = Date()
            try server.start()
            let accepting = Date()
            try server.waitUntilWritable(timeout: 7 * 86_400, shouldStop: { stop.isSet })
            let ready = Date()
            let restored = try RestoredFacts.read(server, database: dbname)
            output.note("the scratch server accepts writes after \(Formatted.duration(ready.timeIntervalSince(drillStart))): "
                + "\(summary.files) files, \(Formatted.bytes(summary.bytes)) restored in \(Formatted.duration(summary.seconds)), "
                + "start-up \(Formatted.duration(accepting.timeIntervalSince(started))), "
                + "WAL replay \(Formatted.duration(ready.timeIntervalSince(accepting))), replayed up to \(restored.replayLSN ?? "?")")
            return RestoreEvidence(
                step: step, database: databaseEntry.name, repository: repositoryEntry.name, backupId: manifest.id,
                backupTime: manifest.stopTime, backupLogicalBytes: manifest.statistics.logicalBytes,
                backupStoredBytes: manifest.statistics.newStoredBytes,
                target: cutoff.map { "drill start (\(Formatted.preciseTimestamp($0))): WAL archived before it, to its end" } ?? targetText,
                archiveCutoff: cutoff, restoredBytes: summary.bytes, restoredFiles: summary.files,
                restoreSeconds: summary.seconds, startupSeconds: accepting.timeIntervalSince(started),
                replaySeconds: ready.timeIntervalSince(accepting), timeline: restored.timeline,
                replayedFrom: manifest.startLSN, replayedUpTo: restored.replayLSN, lastReplayedCommit: restored.lastCommit,
                restoredHeartbeat: restored.heartbeat, sourceHeartbeat: source.heartbeat, sourceBytes: source.bytes,
                growthBytesPerDay: try growth(repository, cluster: manifest.systemIdentifier), readyAt: ready,
                scratchFolder: server.folder)
        }
        session.record(evidence)
    }

    /// The backup to restore: the given one, else the newest of the database's cluster (found by the running
    /// server's system identifier, else by name) that finished before the drill's cut-off, on the timeline still
    /// being archived.
    static func chooseBackup(_ repository: BackupRepository, database: InventoryEntry, secrets: SecretResolver,
                             id: String?, cluster selector: String? = nil, target: RecoveryTarget,
                             cutoff: Date?) throws -> RecoverySelection {
        let cluster = id == nil && selector == nil
            ? try ClusterLookup.cluster(of: database, secrets: secrets, in: repository).cluster.systemIdentifier : selector
        do {
            return try Restore.select(repository, backup: id, cluster: cluster, target: target,
                                      finishedBefore: cutoff, archivedBefore: cutoff)
        } catch let error as Restore.RestoreError {
            throw LifeboatError(error.code == .damaged ? .damaged : .runFailed, error.message,
                                hint: error.hint ?? "run the backup plan first (`lifeboat backup` or `lifeboat run`)")
        }
    }

    /// Bytes per day the cluster's backups grew, from the oldest to the newest (nil when they span under an hour).
    static func growth(_ repository: BackupRepository, cluster: String) throws -> Double? {
        let own = try repository.manifests(cluster: cluster)
        guard let first = own.first, let last = own.last else { return nil }
        let days = last.stopTime.timeIntervalSince(first.stopTime) / 86_400
        guard days >= 1.0 / 24 else { return nil }
        return Double(last.statistics.logicalBytes - first.statistics.logicalBytes) / days
    }

    /// Writes the repository key into the scratch folder (0600, the server's user) for its restore_command; it is
    /// removed with the folder.
    static func exportKey(_ repository: BackupRepository, into folder: String, owner: (uid: uid_t, gid: gid_t)?) throws -> String {
        let path = folder + "/repository.key"
        try repository.exportKey(to: path)
        if let owner { chown(path, owner.uid, owner.gid) }
        return path
    }

    /// `restore_command` for a server restored from `repository`: this binary's `wal fetch` with the key file; for a
    /// bucket, with a credentials file written into `folder` (0600, the server's user), removed with it.
    static func walFetchCommand(_ repository: BackupRepository, cluster: String, keyFile: String, folder: String,
                                owner: (uid: uid_t, gid: gid_t)?) throws -> String {
        var line = WALCommandLine(repository: repository, cluster: cluster, credential: .keyFile(keyFile))
        if let bucket = repository.store as? S3Store {
            let path = folder + "/s3-credentials"
            try LifeboatError.wrapping { () throws(RepositoryError) in try bucket.writeCredentialsFile(to: path) }
            if let owner { chown(path, owner.uid, owner.gid) }
            line.credentialsFile = path
            line.profile = "default"
        }
        return try line.command("fetch %f %p")
    }

}

extension RecoveryTarget {
    var time: Date? {
        if case .time(let text) = self { return Restore.parseTime(text) }
        return nil
    }
}

/// What the source looks like at the drill's start; nil fields when it cannot be reached (the disaster may be real).
struct SourceFacts {
    var heartbeat: Date?
    var bytes: Int64?

    static func read(conninfo: String) -> SourceFacts {
        guard let connection = try? PostgresConnection(conninfo: conninfo + " connect_timeout=5") else { return SourceFacts() }
        defer { connection.close() }
        let bytes = (try? connection.query("SELECT sum(pg_database_size(oid))::text FROM pg_database").scalar)
            .flatMap { $0.flatMap { Int64($0) } }
        return SourceFacts(heartbeat: Heartbeat.read(connection), bytes: bytes)
    }
}

/// What recovery produced on the restored server.
struct RestoredFacts {
    var heartbeat: Date?
    var lastCommit: Date?
    var replayLSN: String?
    var timeline: String?

    static func read(_ server: ScratchServer, database: String) throws -> RestoredFacts {
        guard let conninfo = server.conninfo(database: database) else { return RestoredFacts() }
        let connection = try PostgresConnection(conninfo: conninfo)
        defer { connection.close() }
        let row = try connection.query("""
            SELECT extract(epoch FROM pg_last_xact_replay_timestamp())::text, pg_last_wal_replay_lsn()::text,
                   (SELECT timeline_id::text FROM pg_control_checkpoint())
            """).rows.first
        return RestoredFacts(heartbeat: Heartbeat.read(connection),
                             lastCommit: row?[0].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) },
                             replayLSN: row?[1] ?? nil, timeline: row?[2] ?? nil)
    }
}
