import Foundation
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// Where recovery stops.
public enum RecoveryTarget: Sendable, Equatable {
    /// Replay all WAL the archive has (the default).
    case latest
    /// Stop as soon as the backup is consistent.
    case immediate
    case time(String)
    case lsn(String)
    case name(String)
}

/// Restores a backup from a repository into a new data directory and prepares recovery.
///
/// Every chunk is authenticated and its keyed hash checked, and every file's size compared with the manifest; any
/// mismatch stops the restore with an error naming the file and the backup.
public enum Restore {
    public struct Options: Sendable {
        /// A backup id, or nil for the newest backup (or, with a time target, the newest one finished before it).
        public var backup: String?
        public var destination: String
        public var target: RecoveryTarget = .latest
        public var targetTimeline: String?
        /// `restore_command` to write; nil writes no recovery settings (the backup alone is consistent).
        public var restoreCommand: String?
        /// Owner of everything written (the server's OS user), when running as root.
        public var owner: (uid: uid_t, gid: gid_t)?
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        public var progress: (@Sendable (TransferProgress) -> Void)?

        public init(destination: String) { self.destination = destination }
    }

    public struct Summary: Sendable {
        public var backup: BackupManifest
        public var files: Int
        public var bytes: Int64
        public var seconds: TimeInterval
    }

    public struct RestoreError: Error, CustomStringConvertible, Sendable {
        public var description: String
        /// True when the repository's data was missing or damaged (rather than the destination unusable).
        public var damaged: Bool
    }

    /// Chooses the backup for a target: the given one, else the newest that finished before a time target, else the
    /// newest.
    public static func chooseBackup(_ repository: BackupRepository, id: String?, target: RecoveryTarget)
        throws -> BackupManifest {
        if let id, id != "latest" { return try repository.manifest(id) }
        let manifests = try repository.manifests()
        guard !manifests.isEmpty else {
            throw RestoreError(description: "repository \(repository.location) has no backups", damaged: false)
        }
        if case .time(let text) = target {
            guard let time = parseTime(text) else {
                throw RestoreError(description: "cannot read target time '\(text)' (use e.g. 2026-11-26T02:30:00Z)",
                                   damaged: false)
            }
            guard let chosen = manifests.last(where: { $0.stopTime <= time }) else {
                throw RestoreError(description: "no backup finished before \(text); the oldest finished at \(manifests[0].stopTime)",
                                   damaged: false)
            }
            return chosen
        }
        return manifests.last!
    }

    public static func run(from repository: BackupRepository, options: Options) throws -> Summary {
        let started = Date()
        let manifest = try chooseBackup(repository, id: options.backup, target: options.target)
        try prepareEmptyFolder(options.destination, owner: options.owner, mode: 0o700)
        var roots = ["base": options.destination]
        for tablespace in manifest.tablespaces {
            try prepareEmptyFolder(tablespace.location, owner: options.owner, mode: 0o700)
            roots[tablespace.oid] = tablespace.location
        }
        // Folders first, in order (parents come before children in the tar stream).
        for file in manifest.files where file.kind == "directory" {
            guard let root = roots[file.archive] else { continue }
            let path = root + "/" + file.path
            if mkdir(path, mode_t(file.mode & 0o7777)) != 0 && errno != EEXIST {
                throw RestoreError(description: "cannot create \(path): \(String(cString: strerror(errno)))", damaged: false)
            }
            try chown(path, options.owner)
        }
        for file in manifest.files where file.kind == "symlink" {
            guard let root = roots[file.archive], let link = file.link else { continue }
            let path = root + "/" + file.path
            if symlink(link, path) != 0 {
                throw RestoreError(description: "cannot create link \(path): \(String(cString: strerror(errno)))", damaged: false)
            }
        }
        let regular = manifest.files.filter { $0.kind == "file" }
        let folders = roots
        // Create every file first (mode, owner, length), then fill them chunk by chunk on all cores, each chunk
        // written at its offset: one large relation file is restored as fast as many small ones.
        for file in regular {
            let needed = (file.size + Int64(manifest.chunkSize) - 1) / Int64(manifest.chunkSize)
            guard needed == Int64(file.chunks.count) else {
                throw RestoreError(description: "backup \(manifest.id), file \(file.path): \(file.chunks.count) chunks "
                    + "cannot hold \(file.size) bytes; the manifest is inconsistent", damaged: true)
            }
            try create(file, root: folders[file.archive] ?? options.destination, owner: options.owner)
        }
        struct Piece {
            var file: Int
            var chunk: Int
        }
        let pieces = regular.indices.flatMap { file in regular[file].chunks.indices.map { Piece(file: file, chunk: $0) } }
        let done = Mutex<(bytes: Int64, error: (any Error)?)>((0, nil))
        let total = regular.reduce(Int64(0)) { $0 + $1.size }
        let lastReport = Mutex(Date.distantPast)
        let workers = max(1, options.workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < pieces.count {
                if done.withLock({ $0.error != nil }) { return }
                let piece = pieces[index]
                let file = regular[piece.file]
                do {
                    let written = try writeChunk(piece.chunk, of: file, root: folders[file.archive] ?? options.destination,
                                                 repository: repository, manifest: manifest)
                    let bytes = done.withLock { state -> Int64 in
                        state.bytes += Int64(written)
                        return state.bytes
                    }
                    if let progress = options.progress {
                        let due = lastReport.withLock { last -> Bool in
                            guard Date().timeIntervalSince(last) >= 1 else { return false }
                            last = Date()
                            return true
                        }
                        if due {
                            progress(TransferProgress(bytesDone: bytes, bytesTotal: total,
                                                      elapsed: Date().timeIntervalSince(started)))
                        }
                    }
                } catch {
                    done.withLock { state in if state.error == nil { state.error = error } }
                    return
                }
                index += workers
            }
        }
        if let error = done.withLock({ $0.error }) { throw error }
        if !manifest.walIncluded {
            try copyArchivedWAL(manifest, into: options.destination + "/pg_wal", repository: repository, owner: options.owner)
        }
        try writeRecoverySettings(manifest: manifest, options: options)
        // One flush for every file and folder written (per file system), instead of an fsync per file.
        for root in Set(roots.values) {
            do {
                try FileSystemSync.syncAll(root)
            } catch {
                throw RestoreError(description: error.message, damaged: false)
            }
        }
        return Summary(backup: manifest, files: regular.count, bytes: total, seconds: Date().timeIntervalSince(started))
    }

    /// Creates an empty file with the backup's mode and owner, at its final length (chunks are written into it).
    private static func create(_ file: BackupManifest.File, root: String, owner: (uid: uid_t, gid: gid_t)?) throws {
        let path = root + "/" + file.path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(file.mode & 0o7777))
        guard descriptor >= 0 else {
            throw RestoreError(description: "cannot create \(path): \(String(cString: strerror(errno)))", damaged: false)
        }
        defer { close(descriptor) }
        if let owner { fchown(descriptor, owner.uid, owner.gid) }
        guard ftruncate(descriptor, off_t(file.size)) == 0 else {
            throw RestoreError(description: "cannot size \(path): \(String(cString: strerror(errno)))", damaged: false)
        }
    }

    /// Fetches one chunk (authenticated, keyed hash checked), checks its length against the manifest, and writes it
    /// at its offset. Returns the bytes written.
    private static func writeChunk(_ index: Int, of file: BackupManifest.File, root: String, repository: BackupRepository,
                                   manifest: BackupManifest) throws -> Int {
        let path = root + "/" + file.path
        let offset = Int64(index) * Int64(manifest.chunkSize)
        let expected = Int(min(Int64(manifest.chunkSize), file.size - offset))
        let plaintext: [UInt8]
        do {
            plaintext = try repository.chunk(file.chunks[index])
        } catch {
            throw RestoreError(description: "backup \(manifest.id), file \(file.path): \(error.message); "
                + "the restore was stopped and \(root) is incomplete", damaged: true)
        }
        guard plaintext.count == expected else {
            throw RestoreError(description: "backup \(manifest.id), file \(file.path): chunk \(index) holds "
                + "\(plaintext.count) bytes, the manifest needs \(expected); the restore was stopped", damaged: true)
        }
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw RestoreError(description: "cannot open \(path): \(String(cString: strerror(errno)))", damaged: false)
        }
        defer { close(descriptor) }
        var done = 0
        while done < plaintext.count {
            let count = plaintext.withUnsafeBytes {
                pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw RestoreError(description: "cannot write \(path): \(String(cString: strerror(errno)))", damaged: false)
            }
            done += count
        }
        return plaintext.count
    }

    /// Puts the segments that make the backup consistent into `pg_wal`, from the archive, checked.
    static func copyArchivedWAL(_ manifest: BackupManifest, into folder: String, repository: BackupRepository,
                                owner: (uid: uid_t, gid: gid_t)?) throws {
        for name in manifest.walSegments {
            let contents: [UInt8]?
            do {
                contents = try repository.fetchWAL(name: name)
            } catch {
                throw RestoreError(description: "backup \(manifest.id), WAL \(name): \(error.message)", damaged: true)
            }
            guard let contents else {
                throw RestoreError(description: "backup \(manifest.id) needs WAL segment \(name), which is not in the archive",
                                   damaged: true)
            }
            let path = folder + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(contents),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw RestoreError(description: "cannot write \(path)", damaged: false)
            }
            try chown(path, owner)
        }
    }

    /// Appends the recovery settings to `postgresql.auto.conf` and creates `recovery.signal`.
    static func writeRecoverySettings(manifest: BackupManifest, options: Options) throws {
        guard let command = options.restoreCommand else {
            if options.target != .latest {
                throw RestoreError(description: "a recovery target needs a restore command (WAL from the archive)",
                                   damaged: false)
            }
            return
        }
        func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
        var lines = ["", "# Recovery settings written by lifeboat restore of backup \(manifest.id)",
                     "restore_command = \(quote(command))"]
        switch options.target {
        case .latest: break
        case .immediate: lines.append("recovery_target = 'immediate'")
        case .time(let time): lines.append("recovery_target_time = \(quote(time))")
        case .lsn(let lsn): lines.append("recovery_target_lsn = \(quote(lsn))")
        case .name(let name): lines.append("recovery_target_name = \(quote(name))")
        }
        if options.target != .latest { lines.append("recovery_target_action = 'promote'") }
        lines.append("recovery_target_timeline = \(quote(options.targetTimeline ?? "latest"))")
        let autoConf = options.destination + "/postgresql.auto.conf"
        let handle = FileHandle(forWritingAtPath: autoConf)
        guard let handle else { throw RestoreError(description: "cannot open \(autoConf)", damaged: false) }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
        try handle.close()
        let signal = options.destination + "/recovery.signal"
        guard FileManager.default.createFile(atPath: signal, contents: Data(), attributes: [.posixPermissions: 0o600]) else {
            throw RestoreError(description: "cannot create \(signal)", damaged: false)
        }
        try chown(signal, options.owner)
    }

    private static func prepareEmptyFolder(_ path: String, owner: (uid: uid_t, gid: gid_t)?, mode: mode_t) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw RestoreError(description: "\(path) is not a folder", damaged: false) }
            let contents = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            guard contents.isEmpty else {
                throw RestoreError(description: "\(path) is not empty; restore writes only into an empty or new folder",
                                   damaged: false)
            }
            chmod(path, mode)
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: mode])
        }
        try chown(path, owner)
    }

    private static func chown(_ path: String, _ owner: (uid: uid_t, gid: gid_t)?) throws {
        guard let owner else { return }
        guard lchown(path, owner.uid, owner.gid) == 0 else {
            throw RestoreError(description: "cannot give \(path) to uid \(owner.uid): \(String(cString: strerror(errno)))",
                               damaged: false)
        }
    }


    /// ISO 8601 (`2026-11-26T02:30:00Z`) or PostgreSQL style (`2026-11-26 02:30:00+00`).
    public static func parseTime(_ text: String) -> Date? {
        let formats = ["yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd HH:mm:ssXXXXX", "yyyy-MM-dd HH:mm:ss.SSSSSSXXXXX",
                       "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd HH:mm:ssX", "yyyy-MM-dd HH:mm:ss.SSSSSSX"]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        for format in formats {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

import Synchronization
