import Foundation

/// What a `postgres.restore` step did and measured.
public struct RestoreEvidence: Codable, Sendable, Equatable {
    public var step: String
    public var database: String
    public var repository: String
    public var backupId: String
    /// When the backup finished (its stop time).
    public var backupTime: Date
    public var backupLogicalBytes: Int64
    public var backupStoredBytes: Int64
    /// The recovery target: `drill start (…)`, `latest` or a time.
    public var target: String
    /// WAL files archived at or after this time were treated as absent (the simulated disaster).
    public var archiveCutoff: Date?
    public var restoredBytes: Int64
    public var restoredFiles: Int
    /// Fetch, decrypt, decompress and write the backup's files.
    public var restoreSeconds: Double
    /// `pg_ctl start` until the server accepted connections.
    public var startupSeconds: Double
    /// Accepting connections until recovery had ended and the server accepted writes.
    public var replaySeconds: Double
    public var timeline: String?
    /// The WAL replayed: from the backup's start LSN up to the last record recovery applied.
    public var replayedFrom: String?
    public var replayedUpTo: String?
    /// Commit time of the last transaction recovery replayed.
    public var lastReplayedCommit: Date?
    /// `lifeboat_heartbeat` on the restored server, and on the source at the drill's start (nil: none or unreachable).
    public var restoredHeartbeat: Date?
    public var sourceHeartbeat: Date?
    /// Size of the source's databases at the drill's start (nil: unreachable).
    public var sourceBytes: Int64?
    /// Growth of the backed-up data per day, from the sizes of this database's backups (nil: too few to tell).
    public var growthBytesPerDay: Double?
    public var readyAt: Date
    public var scratchFolder: String

    public init(step: String, database: String, repository: String, backupId: String, backupTime: Date,
                backupLogicalBytes: Int64, backupStoredBytes: Int64, target: String, archiveCutoff: Date?,
                restoredBytes: Int64, restoredFiles: Int, restoreSeconds: Double, startupSeconds: Double,
                replaySeconds: Double, timeline: String?, replayedFrom: String? = nil, replayedUpTo: String?, lastReplayedCommit: Date?,
                restoredHeartbeat: Date?, sourceHeartbeat: Date?, sourceBytes: Int64?, growthBytesPerDay: Double?,
                readyAt: Date, scratchFolder: String) {
        self.step = step
        self.database = database
        self.repository = repository
        self.backupId = backupId
        self.backupTime = backupTime
        self.backupLogicalBytes = backupLogicalBytes
        self.backupStoredBytes = backupStoredBytes
        self.target = target
        self.archiveCutoff = archiveCutoff
        self.restoredBytes = restoredBytes
        self.restoredFiles = restoredFiles
        self.restoreSeconds = restoreSeconds
        self.startupSeconds = startupSeconds
        self.replaySeconds = replaySeconds
        self.timeline = timeline
        self.replayedFrom = replayedFrom
        self.replayedUpTo = replayedUpTo
        self.lastReplayedCommit = lastReplayedCommit
        self.restoredHeartbeat = restoredHeartbeat
        self.sourceHeartbeat = sourceHeartbeat
        self.sourceBytes = sourceBytes
        self.growthBytesPerDay = growthBytesPerDay
        self.readyAt = readyAt
        self.scratchFolder = scratchFolder
    }

    enum CodingKeys: String, CodingKey {
        case step, database, repository, target, timeline
        case backupId = "backup_id", backupTime = "backup_time", backupLogicalBytes = "backup_logical_bytes"
        case backupStoredBytes = "backup_stored_bytes", archiveCutoff = "archive_cutoff"
        case restoredBytes = "restored_bytes", restoredFiles = "restored_files", restoreSeconds = "restore_seconds"
        case startupSeconds = "startup_seconds", replaySeconds = "replay_seconds", replayedUpTo = "replayed_up_to"
        case replayedFrom = "replayed_from"
        case lastReplayedCommit = "last_replayed_commit", restoredHeartbeat = "restored_heartbeat"
        case sourceHeartbeat = "source_heartbeat", sourceBytes = "source_bytes", readyAt = "ready_at"
        case growthBytesPerDay = "growth_bytes_per_day"
        case scratchFolder = "scratch_folder"
    }
}

/// One SQL check against a restored server, with its result.
public struct CheckEvidence: Codable, Sendable, Equatable {
    public var step: String
    public var name: String
    public var sql: String
    /// e.g. `equals 1000`, `at_least 1`, `non_empty`, `matches_source`, `amcheck`.
    public var expectation: String
    /// The result, as text (first column of the first row; or a row count; or a summary).
    public var actual: String
    /// nil when it could not be decided (e.g. `matches_source` with the source unreachable).
    public var passed: Bool?
    public var detail: String?
    public var seconds: Double
    public var finishedAt: Date

    public init(step: String, name: String, sql: String, expectation: String, actual: String, passed: Bool?,
                detail: String?, seconds: Double, finishedAt: Date) {
        self.step = step
        self.name = name
        self.sql = sql
        self.expectation = expectation
        self.actual = actual
        self.passed = passed
        self.detail = detail
        self.seconds = seconds
        self.finishedAt = finishedAt
    }

    enum CodingKeys: String, CodingKey {
        case step, name, sql, expectation, actual, passed, detail, seconds
        case finishedAt = "finished_at"
    }
}
