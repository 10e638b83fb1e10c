import Foundation
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// A base backup that reads the data directory directly, for Lifeboat running on the database host.
///
/// `pg_backup_start` and `pg_backup_stop` run on one session; between them the files are read from disk. A file
/// whose size and modification time (nanoseconds) equal those in the previous backup of the same cluster, and that
/// was last modified before that backup began, is not read again: its chunk list is reused. Pages that change while
/// they are read are repaired by WAL replay, which is why the server must archive into this repository (checked).
public enum LocalBackup {
    public struct Options: Sendable {
        public var conninfo: String
        public var source: String
        /// `source` is only a fallback (the host): a cluster the repository knows keeps its name.
        public var sourceIsFallback = false
        /// Read from here instead of the server's `data_directory` (e.g. when it is mounted elsewhere).
        public var dataDirectory: String?
        public var fastCheckpoint = true
        /// Reuse unchanged files from the previous backup (off: read everything, `--full-read`).
        public var reuseUnchanged = true
        /// Called with what the operator should know (a full read forced by the clock, …).
        public var note: @Sendable (String) -> Void = { _ in }
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        public var archiveWait: TimeInterval = 60
        public var shouldStop: @Sendable () -> Bool = { false }

        public init(conninfo: String, source: String) {
            self.conninfo = conninfo
            self.source = source
        }
    }

    /// Contents PostgreSQL itself leaves out of base backups (files in these folders; the folders are kept).
    static let emptiedFolders: Set<String> = [
        "pg_wal", "pg_replslot", "pg_stat_tmp", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans",
    ]
    static let skippedFiles: Set<String> = [
        "postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "backup_label.old", "pg_internal.init",
    ]

    public static func run(into repository: BackupRepository, options: Options) throws -> BackupManifest {
        let lock = try RepositoryLock.acquire(repository, .shared, timeout: 600)
        defer { withExtendedLifetime(lock) {} }
        let connection = try PostgresConnection(conninfo: options.conninfo)
        defer { connection.close() }
        guard try connection.query("SHOW archive_mode").scalar != "off" else {
            throw PostgresError(message: "a local backup needs the server to archive its WAL into this repository "
                + "(archive_mode = on, archive_command = 'lifeboat wal push %p ...'); use the streaming mode otherwise")
        }
        let dataDirectory = try options.dataDirectory ?? connection.query("SHOW data_directory").scalar ?? ""
        guard access(dataDirectory + "/PG_VERSION", R_OK) == 0 else {
            throw PostgresError(message: "cannot read the data directory \(dataDirectory) from here; run the local mode "
                + "on the database host as root or the server's user, or use the streaming mode")
        }
        let systemIdentifier = try connection.query("SELECT system_identifier::text FROM pg_control_system()").scalar ?? ""
        let segmentSize = try BaseBackup.segmentSize(connection.query("SHOW wal_segment_size").scalar ?? "16MB")
        var previous = options.reuseUnchanged ? try repository.manifests(cluster: systemIdentifier).last : nil
        // A clock that went backwards since the previous backup makes modification times meaningless: read all.
        if let before = previous, Date() < before.stopTime {
            options.note("the clock is earlier than the previous backup's end (\(before.stopTime)); reading every file")
            previous = nil
        }
        var previousFiles: [String: BackupManifest.File] = [:]
        for file in previous?.files ?? [] where file.mtimeNanoseconds != nil {
            previousFiles[file.archive + "/" + file.path] = file
        }
        let previousStart = previous?.startNanoseconds
            ?? Int64((previous?.startTime.timeIntervalSince1970 ?? 0).rounded(.down)) * 1_000_000_000

        let (id, started) = try repository.newBackupId()
        let label = "lifeboat \(id)"
        let quoted = label.replacingOccurrences(of: "'", with: "''")
        guard let startLSN = try connection.query("SELECT pg_backup_start('\(quoted)', \(options.fastCheckpoint))::text").scalar,
              let timeline = try connection.query("SELECT timeline_id FROM pg_control_checkpoint()").scalar.flatMap({ Int($0) })
        else { throw PostgresError(message: "pg_backup_start returned nothing") }
        var stopped = false
        defer {
            // Leave no backup running on the server if anything below fails.
            if !stopped { _ = try? connection.query("SELECT pg_backup_stop(false)") }
        }

        let pipeline = ChunkPipeline(repository: repository, workers: options.workers)
        var published = false
        // A failed backup removes its unfinished packs at once; complete ones no index lists wait for `repo gc`.
        defer { if !published { pipeline.abandon() } }
        let chunkSize = repository.config.chunkSize
        var files: [(file: BackupManifest.File, slots: [Int])] = []
        var tablespaces: [BackupManifest.Tablespace] = []
        var readBytes: Int64 = 0

        /// `global/pg_control`, read after every other file (as PostgreSQL's own base backup does).
        var control: (entry: BackupManifest.File, path: String)?

        // A tablespace's location holds one folder per server version (`PG_15_202209061`): only this server's is
        // backed up, as PostgreSQL's own base backup does (not `lost+found`, not an older version's leftovers).
        let versionFolder = try connection.query("SELECT 'PG_' || (current_setting('server_version_num')::int / 10000) "
            + "|| '_' || catalog_version_no FROM pg_control_system()").scalar ?? ""

        func entries(archive: String, root: String) throws -> [(String, stat)] {
            guard archive != "base" else { return try walk(root, archive: archive) }
            var info = stat()
            guard lstat(root + "/" + versionFolder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw PostgresError(message: "tablespace \(archive) at \(root) has no folder \(versionFolder): "
                    + String(cString: strerror(errno)))
            }
            return [(versionFolder, info)] + (try walk(root, archive: archive, versionFolder))
        }

        func add(archive: String, root: String) throws {
            for (relative, info) in try entries(archive: archive, root: root) {
                if options.shouldStop() { throw PostgresError(message: "the local backup was stopped") }
                let kind = info.st_mode & S_IFMT
                let mtimeNs = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
                var entry = BackupManifest.File(archive: archive, path: relative, kind: "directory",
                                                mode: UInt32(info.st_mode & 0o7777), size: 0,
                                                mtime: Int64(info.st_mtim.tv_sec), mtimeNanoseconds: mtimeNs)
                if kind == S_IFDIR {
                    files.append((entry, []))
                    continue
                }
                if kind == S_IFLNK {
                    let target: String
                    do {
                        target = try FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + relative)
                    } catch {
                        if !exists(root + "/" + relative) { continue }  // removed while the backup ran
                        throw PostgresError(message: "cannot read the link \(root)/\(relative): \(error.localizedDescription)")
                    }
                    // pg_tblspc/<oid>: a tablespace, read as its own archive; tablespace_map recreates the link.
                    if archive == "base", relative.hasPrefix("pg_tblspc/") {
                        let oid = String(relative.dropFirst("pg_tblspc/".count))
                        tablespaces.append(BackupManifest.Tablespace(oid: oid, location: target))
                        continue
                    }
                    // Any other link stays a link.
                    entry.kind = "symlink"
                    entry.link = target
                    files.append((entry, []))
                    continue
                }
                guard kind == S_IFREG else { continue }
                entry.kind = "file"
                entry.size = Int64(info.st_size)
                if archive == "base" && relative == "global/pg_control" {
                    control = (entry, root + "/" + relative)
                    continue
                }
                if let before = previousFiles[archive + "/" + relative], before.size == entry.size,
                   before.mtimeNanoseconds == mtimeNs, mtimeNs < previousStart,
                   try before.chunks.allSatisfy({ try repository.chunkLocation($0) != nil }) {
                    // Unchanged, and every chunk it had is still in the repository's index.
                    entry.chunks = before.chunks
                    files.append((entry, []))
                    continue
                }
                var slots: [Int] = []
                let size = try readChunks(root + "/" + relative, chunkSize: chunkSize) { chunk in
                    slots.append(try pipeline.submit(chunk))
                }
                guard let size else { continue }  // vanished while the backup ran (e.g. a dropped table)
                entry.size = size
                readBytes += size
                files.append((entry, slots))
            }
        }
        try add(archive: "base", root: dataDirectory)
        for tablespace in tablespaces {
            try add(archive: tablespace.oid, root: tablespace.location)
        }
        guard let control else {
            throw PostgresError(message: "\(dataDirectory)/global/pg_control is missing: not a data directory")
        }
        var controlSlots: [Int] = []
        guard let controlSize = try readChunks(control.path, chunkSize: chunkSize, { controlSlots.append(try pipeline.submit($0)) })
        else { throw PostgresError(message: "\(control.path) vanished while the backup ran") }
        var controlEntry = control.entry
        controlEntry.size = controlSize
        readBytes += controlSize
        files.append((controlEntry, controlSlots))

        guard let stop = try connection.query("SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)").rows.first,
              let stopLSN = stop[0], let labelFile = stop[1]
        else { throw PostgresError(message: "pg_backup_stop returned nothing") }
        stopped = true
        for (name, content) in [("backup_label", labelFile), ("tablespace_map", stop[2] ?? "")] where !content.isEmpty {
            let bytes = Array(content.utf8)
            var slots: [Int] = []
            var offset = 0
            while offset < bytes.count {
                let end = min(bytes.count, offset + chunkSize)
                slots.append(try pipeline.submit(Array(bytes[offset..<end])))
                offset = end
            }
            files.append((BackupManifest.File(archive: "base", path: name, kind: "file", mode: 0o600,
                                              size: Int64(bytes.count), mtime: Int64(Date().timeIntervalSince1970)), slots))
        }

        let stored = try pipeline.finish()
        published = true
        guard let segments = WALRange.required(timeline: timeline, start: startLSN, stop: stopLSN, segmentSize: segmentSize)
        else { throw PostgresError(message: "cannot read the backup's LSNs \(startLSN) and \(stopLSN)") }
        try BaseBackup.waitForArchive(segments, cluster: systemIdentifier, in: repository, timeout: options.archiveWait)
        let manifestFiles = files.map { pending -> BackupManifest.File in
            var file = pending.file
            if !pending.slots.isEmpty || file.chunks.isEmpty { file.chunks = pending.slots.map { stored.ids[$0] } }
            return file
        }
        let statistics = BackupManifest.Statistics(
            logicalBytes: manifestFiles.reduce(0) { $0 + $1.size }, newStoredBytes: stored.newBytes,
            chunks: manifestFiles.reduce(0) { $0 + $1.chunks.count }, newChunks: stored.newChunks,
            files: manifestFiles.filter { $0.kind == "file" }.count, readBytes: readBytes)
        let manifest = BackupManifest(
            id: id, label: label,
            source: try BaseBackup.sourceName(options.source, fallback: options.sourceIsFallback, cluster: systemIdentifier,
                                              in: repository),
            systemIdentifier: systemIdentifier, timeline: timeline,
            startLSN: startLSN, stopLSN: stopLSN, startTime: started, stopTime: Date(),
            postgresVersion: connection.serverVersion, walIncluded: false, walSegments: segments,
            walSegmentSize: Int(segmentSize), chunkSize: chunkSize, tablespaces: tablespaces, files: manifestFiles,
            statistics: statistics)
        Failpoint.pass("backup.before-manifest")
        return try repository.commitNew(manifest, under: lock)
    }

    /// Entries below `root` in a stable order (folders before their contents), without what base backups omit.
    /// Only a name that vanished while the backup ran (ENOENT: a dropped relation or database) is skipped; any
    /// other error stops the backup. A symbolic link `pg_wal` (`initdb --waldir`) is kept as the folder PostgreSQL
    /// expects, with its `archive_status`.
    static func walk(_ root: String, archive: String, _ prefix: String = "") throws -> [(String, stat)] {
        var result: [(String, stat)] = []
        let folder = prefix.isEmpty ? root : root + "/" + prefix
        guard let names = try listFolder(folder) else { return [] }
        for name in names.sorted() {
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            if skippedFiles.contains(name) || name.hasPrefix("pgsql_tmp") { continue }
            var info = stat()
            guard lstat(root + "/" + relative, &info) == 0 else {
                if errno == ENOENT { continue }
                throw PostgresError(message: "cannot look at \(root)/\(relative): \(String(cString: strerror(errno)))")
            }
            let topLevel = archive == "base" && prefix.isEmpty
            if topLevel && name == "pg_wal" && info.st_mode & S_IFMT == S_IFLNK {
                guard stat(root + "/pg_wal", &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                    throw PostgresError(message: "\(root)/pg_wal is a link to no readable folder: \(String(cString: strerror(errno)))")
                }
            }
            result.append((relative, info))
            if info.st_mode & S_IFMT == S_IFDIR {
                if topLevel && emptiedFolders.contains(name) {
                    if name == "pg_wal" {
                        var status = stat()
                        if stat(root + "/pg_wal/archive_status", &status) == 0 {
                            result.append(("pg_wal/archive_status", status))
                        } else if errno != ENOENT {
                            throw PostgresError(message: "cannot look at \(root)/pg_wal/archive_status: \(String(cString: strerror(errno)))")
                        }
                    }
                    continue
                }
                result += try walk(root, archive: archive, relative)
            }
        }
        return result
    }

    /// The names in a folder; nil when the folder no longer exists. Any other failure is an error.
    static func listFolder(_ folder: String) throws -> [String]? {
        guard let directory = opendir(folder) else {
            if errno == ENOENT { return nil }
            throw PostgresError(message: "cannot read the folder \(folder): \(String(cString: strerror(errno)))")
        }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw PostgresError(message: "cannot read the folder \(folder): \(String(cString: strerror(errno)))") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 || errno != ENOENT
    }

    /// Reads a file in chunk-size pieces; returns the bytes read, or nil when it no longer exists.
    static func readChunks(_ path: String, chunkSize: Int, _ body: ([UInt8]) throws -> Void) throws -> Int64? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw PostgresError(message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var total: Int64 = 0
        while true {
            var buffer = [UInt8](repeating: 0, count: chunkSize)
            var filled = 0
            while filled < chunkSize {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, chunkSize - filled) }
                if count < 0 && errno == EINTR { continue }
                guard count >= 0 else { throw PostgresError(message: "cannot read \(path): \(String(cString: strerror(errno)))") }
                if count == 0 { break }
                filled += count
            }
            if filled == 0 { break }
            buffer.removeLast(chunkSize - filled)
            try body(buffer)
            total += Int64(filled)
            if filled < chunkSize { break }
        }
        return total
    }
}
