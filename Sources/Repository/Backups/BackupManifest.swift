import Foundation

/// Everything needed to restore one backup, written last: the backup exists once this object exists.
///
/// Stored encrypted at `backups/<id>/manifest`. Chunk ids are keyed hashes of the content, so they also serve as
/// each chunk's checksum.
public struct BackupManifest: Codable, Sendable, Equatable {
    public struct File: Codable, Sendable, Equatable {
        /// `base` for the data directory, else the tablespace's OID.
        public var archive: String
        public var path: String
        public var kind: String
        public var mode: UInt32
        public var size: Int64
        public var mtime: Int64
        public var chunks: [String]
        public var link: String?
        /// Modification time in nanoseconds, when the file was read from disk (local backups); used to recognise
        /// unchanged files in the next backup.
        public var mtimeNanoseconds: Int64?

        enum CodingKeys: String, CodingKey {
            case archive, path, kind, mode, size, mtime, chunks, link
            case mtimeNanoseconds = "mtime_ns"
        }

        public init(archive: String, path: String, kind: String, mode: UInt32, size: Int64, mtime: Int64,
                    chunks: [String] = [], link: String? = nil, mtimeNanoseconds: Int64? = nil) {
            self.archive = archive
            self.path = path
            self.kind = kind
            self.mode = mode
            self.size = size
            self.mtime = mtime
            self.chunks = chunks
            self.link = link
            self.mtimeNanoseconds = mtimeNanoseconds
        }
    }

    public struct Tablespace: Codable, Sendable, Equatable {
        public var oid: String
        public var location: String
        public init(oid: String, location: String) {
            self.oid = oid
            self.location = location
        }
    }

    public struct Statistics: Codable, Sendable, Equatable {
        /// Bytes of file content in the backup (what a restore writes).
        public var logicalBytes: Int64
        /// Bytes written to the repository by this backup (new chunks, after compression and encryption).
        public var newStoredBytes: Int64
        public var chunks: Int
        public var newChunks: Int
        public var files: Int
        /// Bytes actually read from the server (local backups skip files unchanged since the previous backup).
        public var readBytes: Int64?

        enum CodingKeys: String, CodingKey {
            case logicalBytes = "logical_bytes", newStoredBytes = "new_stored_bytes", chunks
            case newChunks = "new_chunks", files, readBytes = "read_bytes"
        }

        public init(logicalBytes: Int64 = 0, newStoredBytes: Int64 = 0, chunks: Int = 0, newChunks: Int = 0,
                    files: Int = 0, readBytes: Int64? = nil) {
            self.logicalBytes = logicalBytes
            self.newStoredBytes = newStoredBytes
            self.chunks = chunks
            self.newChunks = newChunks
            self.files = files
            self.readBytes = readBytes
        }
    }

    public var format = 1
    public var id: String
    public var label: String
    /// The name of the database in the inventory, or the host it came from.
    public var source: String
    public var systemIdentifier: String
    public var timeline: Int
    public var startLSN: String
    public var stopLSN: String
    public var startTime: Date
    public var stopTime: Date
    /// `startTime` in nanoseconds (JSON dates keep whole seconds); local backups compare file times with it.
    public var startNanoseconds: Int64?
    public var postgresVersion: Int
    /// Whether the WAL from start to stop LSN is inside the backup (servers that do not archive).
    public var walIncluded: Bool
    /// The WAL segments from start to stop LSN. When not included, they were confirmed in the repository's archive
    /// before this manifest was written, and restore copies them into `pg_wal`.
    public var walSegments: [String]
    public var walSegmentSize: Int
    public var chunkSize: Int
    public var tablespaces: [Tablespace]
    public var files: [File]
    public var statistics: Statistics

    enum CodingKeys: String, CodingKey {
        case format, id, label, source, timeline, tablespaces, files, statistics
        case systemIdentifier = "system_identifier", startLSN = "start_lsn", stopLSN = "stop_lsn"
        case startTime = "start_time", stopTime = "stop_time", postgresVersion = "postgres_version"
        case startNanoseconds = "start_ns"
        case walIncluded = "wal_included", chunkSize = "chunk_size", walSegments = "wal_segments"
        case walSegmentSize = "wal_segment_size"
    }

    public init(id: String, label: String, source: String, systemIdentifier: String, timeline: Int, startLSN: String,
                stopLSN: String, startTime: Date, stopTime: Date, postgresVersion: Int, walIncluded: Bool,
                walSegments: [String], walSegmentSize: Int, chunkSize: Int, tablespaces: [Tablespace], files: [File], statistics: Statistics) {
        self.id = id
        self.label = label
        self.source = source
        self.systemIdentifier = systemIdentifier
        self.timeline = timeline
        self.startLSN = startLSN
        self.stopLSN = stopLSN
        self.startTime = startTime
        self.startNanoseconds = Int64((startTime.timeIntervalSince1970 * 1_000_000_000).rounded(.down))
        self.stopTime = stopTime
        self.postgresVersion = postgresVersion
        self.walIncluded = walIncluded
        self.walSegments = walSegments
        self.walSegmentSize = walSegmentSize
        self.chunkSize = chunkSize
        self.tablespaces = tablespaces
        self.files = files
        self.statistics = statistics
    }
}

extension BackupRepository {
    static func manifestPath(_ id: String) -> String { "backups/\(id)/manifest" }

    /// Writes a backup's manifest: call only after every chunk it names is durable (`syncChunkFolders`). Records
    /// its cluster and the name it was taken under.
    /// `lock` (held shared since the backup began) is confirmed first: a lease that may have lapsed commits nothing,
    /// since a garbage collection may have removed chunks the manifest names.
    public func commit(_ manifest: BackupManifest, under lock: RepositoryLock) throws(RepositoryError) {
        try requireCurrentFormat()
        try lock.confirm()
        guard SystemIdentifier.isValid(manifest.systemIdentifier) else {
            throw RepositoryError(.refused, "backup \(manifest.id) names no valid system identifier ('\(manifest.systemIdentifier)')")
        }
        try noteCluster(manifest.systemIdentifier, name: manifest.source, postgresVersion: manifest.postgresVersion,
                        firstSeen: manifest.startTime)
        let written = try putObject(RepositoryJSON.encode(manifest), kind: .manifest, path: Self.manifestPath(manifest.id),
                                    mode: .createNew)
        guard written else { throw RepositoryError(.conflict, "backup \(manifest.id) already exists") }
    }

    /// Commits a new backup (`commit`); when another process committed a backup under the same id meanwhile (the
    /// same second and the same random suffix), under a new id instead. Returns the manifest as committed.
    public func commitNew(_ manifest: BackupManifest, under lock: RepositoryLock) throws(RepositoryError) -> BackupManifest {
        var candidate = manifest
        for _ in 0..<8 {
            do {
                try commit(candidate, under: lock)
                return candidate
            } catch where error.code == .conflict {
                let id = try newBackupId(startedAt: candidate.startTime).id
                if candidate.label == "lifeboat \(candidate.id)" { candidate.label = "lifeboat \(id)" }
                candidate.id = id
            }
        }
        throw RepositoryError(.conflict, "no free backup id for \(manifest.id) after 8 attempts")
    }

    /// Ids of complete backups (those with a manifest), sorted.
    public func backupIds() throws(RepositoryError) -> [String] {
        try store.listAll("backups").compactMap { object in
            let parts = object.path.split(separator: "/")
            return parts.count == 3 && parts[2] == "manifest" ? String(parts[1]) : nil
        }.sorted()
    }

    public func manifest(_ id: String) throws(RepositoryError) -> BackupManifest {
        guard BackupManifest.isValidId(id), let bytes = try object(kind: .manifest, path: Self.manifestPath(id)) else {
            throw RepositoryError(.notFound, "no backup \(id) in \(location)",
                                  hint: "`lifeboat backup list` shows the backups")
        }
        let manifest = try RepositoryJSON.decode(BackupManifest.self, bytes, what: "manifest of backup \(id)")
        guard manifest.id == id else {
            throw RepositoryError(.damaged, "the manifest at \(Self.manifestPath(id)) is that of backup \(manifest.id)")
        }
        return manifest
    }

    /// Every complete backup's manifest (of one cluster, when given), oldest first by start time.
    public func manifests(cluster: String? = nil) throws(RepositoryError) -> [BackupManifest] {
        var result: [BackupManifest] = []
        for id in try backupIds() {
            let manifest = try manifest(id)
            if cluster == nil || manifest.systemIdentifier == cluster { result.append(manifest) }
        }
        return result.sorted(by: BackupManifest.chronological)
    }
}

extension BackupManifest {
    /// Oldest first: by start time (to the nanosecond), then id.
    public static func chronological(_ a: BackupManifest, _ b: BackupManifest) -> Bool {
        let left = a.startNanoseconds ?? Int64(a.startTime.timeIntervalSince1970 * 1e9)
        let right = b.startNanoseconds ?? Int64(b.startTime.timeIntervalSince1970 * 1e9)
        return left != right ? left < right : a.id < b.id
    }

    /// Why a file path from a server or a manifest cannot be used, or nil: it must be relative and stay below its
    /// root (no empty, `.` or `..` component, no NUL). A leading `./` (PostgreSQL names `./pg_wal` so) is allowed.
    public static func unsafePathReason(_ path: String) -> String? {
        let path = normalized(path)
        if path.isEmpty { return "an empty path" }
        if path.hasPrefix("/") { return "an absolute path" }
        if path.utf8.contains(0) { return "a NUL byte" }
        for component in path.split(separator: "/", omittingEmptySubsequences: false) {
            if component.isEmpty || component == "." || component == ".." { return "a '\(component)' component" }
        }
        return nil
    }

    /// The path without leading `./`.
    public static func normalized(_ path: String) -> String {
        var path = Substring(path)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        return String(path)
    }

    /// Backup ids are `20261202T062105Z-3fa1` (older ones `20261202T062105Z`): letters, digits and `-` only.
    public static func isValidId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64
            && id.utf8.allSatisfy { (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 }
    }

    /// Whether `other` is this backup (in another repository): same cluster, id and start position.
    public func isSameBackup(as other: BackupManifest) -> Bool {
        id == other.id && systemIdentifier == other.systemIdentifier && startLSN == other.startLSN
            && timeline == other.timeline
    }

    /// The stop position as a number.
    public var stopPosition: UInt64? { WALRange.parse(stopLSN) }
    public var startPosition: UInt64? { WALRange.parse(startLSN) }
}
