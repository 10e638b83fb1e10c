import Foundation
import Repository

/// How far a backup or restore has got, for progress lines.
public struct TransferProgress: Sendable {
    public var bytesDone: Int64
    /// Known when the server reported sizes (`PROGRESS`).
    public var bytesTotal: Int64?
    public var elapsed: TimeInterval
}

/// A base backup of a PostgreSQL 15 server over a replication connection, streamed into a repository.
///
/// `BASE_BACKUP` sends tar archives; they are parsed as they arrive, file contents cut into chunks of the
/// repository's chunk size (a multiple of the 8 KiB page) and stored by a `ChunkPipeline` on all cores. The WAL
/// from start to stop LSN is part of the backup, so it restores without the archive. The manifest is written last,
/// after every chunk is durable: a backup that dies before has no manifest and does not exist.
public enum BaseBackup {
    public struct Options: Sendable {
        public var conninfo: String
        /// Where the backup came from, for listings (an inventory name or a host).
        public var source: String
        /// `source` is only a fallback (the host): a cluster the repository knows keeps its name.
        public var sourceIsFallback = false
        public var fastCheckpoint = true
        /// Where the WAL that makes the backup consistent is kept. Nil: the archive when the server archives
        /// (`archive_mode` on), else inside the backup.
        public var includeWAL: Bool?
        /// How long to wait for the archive to hold the backup's WAL.
        public var archiveWait: TimeInterval = 60
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        public var progress: (@Sendable (TransferProgress) -> Void)?
        /// Polled while streaming; true abandons the backup (nothing is committed).
        public var shouldStop: @Sendable () -> Bool = { false }

        public init(conninfo: String, source: String) {
            self.conninfo = conninfo
            self.source = source
        }
    }

    /// Takes the backup and commits it; returns its manifest.
    public static func run(into repository: BackupRepository, options: Options) throws -> BackupManifest {
        // Shared: other backups may run alongside; gc and expire wait until this one has committed or died.
        let lock = try RepositoryLock.acquire(repository, .shared, timeout: 600)
        defer { withExtendedLifetime(lock) {} }
        let (id, started) = try repository.newBackupId()
        let connection = try ReplicationConnection(conninfo: options.conninfo)
        defer { connection.close() }
        let identity = try connection.identifySystem()
        let archiving = try connection.setting("archive_mode") != "off"
        let includeWAL = options.includeWAL ?? !archiving
        let segmentSize = try Self.segmentSize(connection.setting("wal_segment_size"))
        let pipeline = ChunkPipeline(repository: repository, workers: options.workers)
        var published = false
        // A failed backup removes its unfinished packs at once; complete ones no index lists wait for `repo gc`.
        defer { if !published { pipeline.abandon() } }
        let chunkSize = repository.config.chunkSize

        struct PendingFile {
            var file: BackupManifest.File
            var slots: [Int]
        }
        var files: [PendingFile] = []
        var tablespaces: [BackupManifest.Tablespace] = []
        var archive = "base"
        var tar = TarReader()
        var archiveOpen = false
        /// An archive cut short (a connection lost mid-file, a server that stopped) is never taken for a backup.
        func endArchive() throws {
            guard archiveOpen else { return }
            guard tar.isFinished else {
                throw PostgresError(message: "the server's \(archive == "base" ? "base" : "tablespace \(archive)") archive "
                    + "ended before its end-of-archive marker; the backup is incomplete and was not committed")
            }
            archiveOpen = false
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunkSize)
        var startLSN = "", stopLSN = "", timeline = identity.timeline
        var totalBytes: Int64?
        var logicalBytes: Int64 = 0
        var lastReport = Date.distantPast

        func flushChunk() throws {
            guard !buffer.isEmpty else { return }
            let slot = try pipeline.submit(buffer)
            files[files.count - 1].slots.append(slot)
            buffer = []
            buffer.reserveCapacity(chunkSize)
        }

        try connection.baseBackup(label: "lifeboat \(id)", fastCheckpoint: options.fastCheckpoint,
                                  includeWAL: includeWAL, waitForArchive: false,
                                  shouldStop: options.shouldStop) { message in
            switch message {
            case .started(let lsn, let tli):
                startLSN = lsn
                timeline = tli
            case .tablespaces(let rows):
                totalBytes = rows.compactMap(\.sizeKiB).reduce(0, +) * 1024
                tablespaces = rows.compactMap { row in
                    guard let oid = row.oid, let location = row.location else { return nil }
                    return BackupManifest.Tablespace(oid: oid, location: location)
                }
            case .archive(let name, _):
                try endArchive()
                archive = name == "base.tar" ? "base" : String(name.prefix { $0 != "." })
                tar = TarReader()
                archiveOpen = true
            case .data(let bytes):
                try tar.feed(bytes) { event in
                    switch event {
                    case .entry(let entry):
                        if let reason = BackupManifest.unsafePathReason(entry.path) {
                            throw PostgresError(message: "the server sent a file named '\(entry.path)' (\(reason)); "
                                + "refusing the backup")
                        }
                        files.append(PendingFile(
                            file: BackupManifest.File(archive: archive, path: entry.path, kind: entry.kind.rawValue,
                                                      mode: entry.mode, size: entry.size, mtime: entry.mtime,
                                                      link: entry.linkTarget),
                            slots: []))
                    case .content(let content):
                        var offset = 0
                        while offset < content.count {
                            let take = min(chunkSize - buffer.count, content.count - offset)
                            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: content[offset..<(offset + take)]))
                            offset += take
                            if buffer.count == chunkSize { try flushChunk() }
                        }
                        logicalBytes += Int64(content.count)
                    case .endOfFile:
                        try flushChunk()
                    }
                }
            case .progress(let sent):
                if let progress = options.progress, Date().timeIntervalSince(lastReport) >= 1 {
                    lastReport = Date()
                    progress(TransferProgress(bytesDone: sent, bytesTotal: totalBytes,
                                              elapsed: Date().timeIntervalSince(started)))
                }
            case .finished(let lsn, let tli):
                try endArchive()
                stopLSN = lsn
                timeline = tli
            }
        }
        guard !stopLSN.isEmpty else { throw PostgresError(message: "the server ended the base backup without a stop LSN") }
        try endArchive()

        let stored = try pipeline.finish()
        published = true
        guard let segments = WALRange.required(timeline: timeline, start: startLSN, stop: stopLSN, segmentSize: segmentSize)
        else { throw PostgresError(message: "cannot read the backup's LSNs \(startLSN) and \(stopLSN)") }
        if !includeWAL {
            try waitForArchive(segments, cluster: identity.systemIdentifier, in: repository, timeout: options.archiveWait)
        }
        let manifestFiles = files.map { pending in
            var file = pending.file
            file.chunks = pending.slots.map { stored.ids[$0] }
            return file
        }
        let statistics = BackupManifest.Statistics(
            logicalBytes: logicalBytes, newStoredBytes: stored.newBytes, chunks: stored.ids.count,
            newChunks: stored.newChunks, files: manifestFiles.filter { $0.kind == "file" }.count)
        let manifest = BackupManifest(
            id: id, label: "lifeboat \(id)",
            source: try sourceName(options.source, fallback: options.sourceIsFallback, cluster: identity.systemIdentifier,
                                   in: repository),
            systemIdentifier: identity.systemIdentifier,
            timeline: timeline, startLSN: startLSN, stopLSN: stopLSN, startTime: started, stopTime: Date(),
            postgresVersion: connection.serverVersion, walIncluded: includeWAL, walSegments: segments,
            walSegmentSize: Int(segmentSize), chunkSize: chunkSize,
            tablespaces: tablespaces, files: manifestFiles, statistics: statistics)
        Failpoint.pass("backup.before-manifest")
        return try repository.commitNew(manifest, under: lock)
    }

    /// The backup is usable only with its WAL: with an archiving server, confirm the segments reached this
    /// repository's archive before the manifest is written. (The server is not asked to wait: PostgreSQL 15 checks
    /// its archiver about once a second, and only knows that the archive command succeeded, not where it wrote.)
    /// Only this cluster's archive counts: another cluster's segment of the same name is not this backup's WAL.
    static func waitForArchive(_ segments: [String], cluster: String, in repository: BackupRepository,
                               timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var missing = try segments.filter { try !repository.hasWAL(name: $0, cluster: cluster) }
        while !missing.isEmpty && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            missing = try missing.filter { try !repository.hasWAL(name: $0, cluster: cluster) }
        }
        guard missing.isEmpty else {
            throw PostgresError(message: "the backup's WAL (\(missing.joined(separator: ", "))) did not reach the archive "
                + "of cluster \(cluster) in \(repository.location) within \(Int(timeout)) s; the backup was not committed. "
                + "Set archive_command to `lifeboat wal push %p --repo \(repository.location) --key-file ...`, or back up "
                + "with the WAL included")
        }
    }

    /// The name a backup is taken under: the given one, or, when that is only the host, the name the cluster
    /// already has in the repository.
    static func sourceName(_ given: String, fallback: Bool, cluster: String, in repository: BackupRepository) throws -> String {
        guard fallback, SystemIdentifier.isValid(cluster), let known = try repository.clusterRecord(cluster)?.name else {
            return given
        }
        return known
    }

    /// `16MB` (SHOW's unit text) in bytes.
    static func segmentSize(_ text: String) throws -> UInt64 {
        let digits = text.prefix { $0.isNumber }
        guard let number = UInt64(digits) else { throw PostgresError(message: "cannot read wal_segment_size '\(text)'") }
        switch text.dropFirst(digits.count) {
        case "MB": return number << 20
        case "GB": return number << 30
        case "kB": return number << 10
        default: return number
        }
    }
}
