import Foundation
import Repository
import LifeboatCore
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
        /// The cluster (name or system identifier); nil: the only one with backups.
        public var cluster: String?
        public var destination: String
        public var target: RecoveryTarget = .latest
        public var timeline: TimelineChoice = .current
        /// `restore_command` to write; nil writes no recovery settings (the backup alone is consistent).
        public var restoreCommand: String?
        /// Off (default): the restored server does not archive.
        public var archiveMode: ArchiveMode = .off
        /// Owner of everything written (the server's OS user), when running as root.
        public var owner: (uid: uid_t, gid: gid_t)?
        public var workers = ProcessInfo.processInfo.activeProcessorCount
        public var progress: (@Sendable (TransferProgress) -> Void)?
        /// Restore into a folder that holds an older copy: only chunks that differ are written, files the backup
        /// does not have are removed.
        public var delta = false
        /// New locations for tablespaces, by OID (default: where they were when backed up).
        public var tablespaceLocations: [String: String] = [:]
        /// Polled between chunks: true stops the restore (cancelled drills).
        public var shouldStop: (@Sendable () -> Bool)?
        /// Restore although the archive has a gap before the target (recovery then stops at the gap).
        public var allowGap = false
        /// `recovery_end_command`: run once when recovery ends (ends the restore's recovery lease).
        public var recoveryEndCommand: String?

        public init(destination: String) { self.destination = destination }
    }

    public struct Summary: Sendable {
        public var backup: BackupManifest
        public var files: Int
        public var bytes: Int64
        /// With `delta`: bytes already right in the destination, not written again.
        public var reusedBytes: Int64
        public var seconds: TimeInterval
    }

    /// A restore that cannot be done: `damaged` when the repository's data is missing or damaged, `invalidInput`
    /// when the request cannot be carried out (a destination that is not empty, …), else `runFailed`.
    public struct RestoreError: LifeboatFailure, Sendable {
        public var code: ErrorCode
        public var message: String
        public var hint: String?

        public init(_ code: ErrorCode, _ message: String, hint: String? = nil) {
            self.code = code
            self.message = message
            self.hint = hint
        }

        public init(description: String, damaged: Bool, invalidInput: Bool = false, hint: String? = nil) {
            self.init(damaged ? .damaged : invalidInput ? .invalidInput : .runFailed, description, hint: hint)
        }

        /// True when the repository's data was missing or damaged (rather than the destination unusable).
        public var damaged: Bool { code == .damaged }
    }

    /// Chooses the backup (`select`) and restores it.
    public static func run(from repository: BackupRepository, options: Options) throws -> Summary {
        let selection = try select(repository, backup: options.backup, cluster: options.cluster, target: options.target,
                                   timeline: options.timeline)
        return try run(from: repository, selection: selection, options: options)
    }

    /// Restores the backup `selection` names, recovering onto its timeline.
    public static func run(from repository: BackupRepository, selection: RecoverySelection, options: Options) throws -> Summary {
        let started = Date()
        let manifest = selection.manifest
        if let gap = selection.gap, options.restoreCommand != nil, !options.allowGap {
            throw RestoreError(description: "refusing to restore backup \(manifest.id) of cluster \(selection.cluster.label): "
                + "\(gap), before the target; nothing was written (--allow-gap restores anyway, stopping there)",
                damaged: true, hint: "`lifeboat verify --repo \(repository.location)` lists what is missing; "
                    + "a copy (repo copy) may hold it")
        }
        try checkPaths(manifest)
        try prepareFolder(options.destination, delta: options.delta, owner: options.owner, mode: 0o700)
        var roots = ["base": options.destination]
        for tablespace in manifest.tablespaces {
            let location = options.tablespaceLocations[tablespace.oid] ?? tablespace.location
            try prepareFolder(location, delta: options.delta, owner: options.owner, mode: 0o700)
            roots[tablespace.oid] = location
        }
        if options.delta { try removeExtraneous(manifest, roots: roots) }
        // Folders first, in order (parents come before children in the tar stream).
        for file in manifest.files where file.kind == "directory" {
            guard let root = roots[file.archive] else { continue }
            let path = root + "/" + file.path
            if mkdir(path, mode_t(file.mode & 0o7777)) != 0 {
                guard errno == EEXIST else {
                    throw RestoreError(description: "cannot create \(path): \(String(cString: strerror(errno)))", damaged: false)
                }
                // An older copy (--delta) may hold a link or a file where the backup has a folder: never follow it.
                var info = stat()
                if lstat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR {
                    guard unlink(path) == 0, mkdir(path, mode_t(file.mode & 0o7777)) == 0 else {
                        throw RestoreError(description: "cannot replace \(path) with a folder: \(String(cString: strerror(errno)))",
                                           damaged: false)
                    }
                }
            }
            try chown(path, options.owner)
        }
        for file in manifest.files where file.kind == "symlink" {
            guard let root = roots[file.archive], let link = file.link else { continue }
            let path = root + "/" + file.path
            unlink(path)
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
            try create(file, root: folders[file.archive] ?? options.destination, owner: options.owner, delta: options.delta)
        }
        struct Piece {
            var file: Int
            var chunk: Int
        }
        let pieces = regular.indices.flatMap { file in regular[file].chunks.indices.map { Piece(file: file, chunk: $0) } }
        let done = Mutex<(bytes: Int64, reused: Int64, error: (any Error)?)>((0, 0, nil))
        let total = regular.reduce(Int64(0)) { $0 + $1.size }
        let lastReport = Mutex(Date.distantPast)
        let workers = max(1, options.workers)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            // Each worker keeps its current file open: its pieces of one file come one after another.
            var open: (path: String, descriptor: Int32)?
            defer { if let open { close(open.descriptor) } }
            while index < pieces.count {
                if done.withLock({ $0.error != nil }) { return }
                if options.shouldStop?() == true {
                    done.withLock { state in
                        if state.error == nil { state.error = RestoreError(description: "the restore was cancelled", damaged: false) }
                    }
                    return
                }
                let piece = pieces[index]
                let file = regular[piece.file]
                do {
                    let path = (folders[file.archive] ?? options.destination) + "/" + file.path
                    if open?.path != path {
                        if let previous = open { close(previous.descriptor) }
                        open = nil
                        let descriptor = Glibc.open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)
                        guard descriptor >= 0 else {
                            throw RestoreError(description: "cannot open \(path): \(String(cString: strerror(errno)))",
                                               damaged: false)
                        }
                        open = (path, descriptor)
                    }
                    let (written, reused) = try writeChunk(piece.chunk, of: file, descriptor: open!.descriptor,
                                                           repository: repository, manifest: manifest,
                                                           delta: options.delta)
                    let bytes = done.withLock { state -> Int64 in
                        state.bytes += Int64(written)
                        state.reused += Int64(reused)
                        return state.bytes + state.reused
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
        if !options.tablespaceLocations.isEmpty {
            try rewriteTablespaceMap(options.destination, locations: roots, owner: options.owner)
        }
        try writeRecoverySettings(manifest: manifest, timeline: selection.timelineMustBeNamed ? selection.timeline : nil,
                                  options: options)
        // One flush for every file and folder written (per file system), instead of an fsync per file.
        for root in Set(roots.values) {
            do {
                try FileSystemSync.syncAll(root)
            } catch {
                throw RestoreError(description: error.message, damaged: false)
            }
        }
        let reused = done.withLock { $0.reused }
        return Summary(backup: manifest, files: regular.count, bytes: total - reused, reusedBytes: reused,
                       seconds: Date().timeIntervalSince(started))
    }

    /// Refuses a manifest whose paths could reach outside the restored folders: an absolute path, a `..` or empty
    /// component, a path listed twice, or a file whose parent is not a folder of the backup (e.g. below a link).
    static func checkPaths(_ manifest: BackupManifest) throws {
        var folders = Set<String>()
        var seen = Set<String>()
        for file in manifest.files {
            let key = file.archive + "\0" + BackupManifest.normalized(file.path)
            if let reason = BackupManifest.unsafePathReason(file.path) ?? (seen.insert(key).inserted ? nil : "listed twice") {
                throw RestoreError(description: "backup \(manifest.id) names a file '\(file.path)' (\(reason)); refusing to "
                    + "restore it, nothing was written", damaged: true)
            }
            if file.kind == "directory" { folders.insert(key) }
        }
        for file in manifest.files {
            let parent = BackupManifest.normalized(file.path).split(separator: "/").dropLast().joined(separator: "/")
            guard parent.isEmpty || folders.contains(file.archive + "\0" + parent) else {
                throw RestoreError(description: "backup \(manifest.id) names a file '\(file.path)' whose folder is not one of "
                    + "the backup's folders; refusing to restore it, nothing was written", damaged: true)
            }
        }
    }

    /// Creates an empty file with the backup's mode and owner, at its final length (chunks are written into it).
    private static func create(_ file: BackupManifest.File, root: String, owner: (uid: uid_t, gid: gid_t)?,
                               delta: Bool) throws {
        let path = root + "/" + file.path
        var flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW
        if delta {
            var info = stat()
            if lstat(path, &info) == 0 {
                if info.st_mode & S_IFMT == S_IFREG {
                    flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW
                    chmod(path, mode_t(file.mode & 0o7777))
                } else {
                    try? FileManager.default.removeItem(atPath: path)
                }
            }
        }
        let descriptor = open(path, flags, mode_t(file.mode & 0o7777))
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
    private static func writeChunk(_ index: Int, of file: BackupManifest.File, descriptor: Int32,
                                   repository: BackupRepository, manifest: BackupManifest, delta: Bool)
        throws -> (written: Int, reused: Int) {
        let offset = Int64(index) * Int64(manifest.chunkSize)
        let expected = Int(min(Int64(manifest.chunkSize), file.size - offset))
        if delta, let existing = readRange(descriptor, offset: offset, count: expected),
           existing.withUnsafeBytes({ repository.chunkId($0) }) == file.chunks[index] {
            return (0, expected)
        }
        let plaintext: [UInt8]
        do {
            plaintext = try repository.chunk(file.chunks[index])
        } catch {
            throw RestoreError(description: "backup \(manifest.id), file \(file.path): \(error.message); "
                + "the restore was stopped and the target is incomplete", damaged: true)
        }
        guard plaintext.count == expected else {
            throw RestoreError(description: "backup \(manifest.id), file \(file.path): chunk \(index) holds "
                + "\(plaintext.count) bytes, the manifest needs \(expected); the restore was stopped", damaged: true)
        }
        var done = 0
        while done < plaintext.count {
            let count = plaintext.withUnsafeBytes {
                pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw RestoreError(description: "cannot write \(file.path): \(String(cString: strerror(errno)))",
                                   damaged: false)
            }
            done += count
        }
        return (plaintext.count, 0)
    }

    /// `count` bytes at `offset` of an existing file, or nil when it is shorter.
    private static func readRange(_ descriptor: Int32, offset: Int64, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            done += got
        }
        return buffer
    }

    /// With `delta`: removes what the destination has and the backup does not (stale relation files, WAL,
    /// `recovery.signal` from an earlier restore).
    private static func removeExtraneous(_ manifest: BackupManifest, roots: [String: String]) throws {
        for (archive, root) in roots {
            let wanted = Set(manifest.files.filter { $0.archive == archive }.map { BackupManifest.normalized($0.path) })
            // Children before their folders; links (pg_tblspc) are removed, never followed. What cannot be removed
            // stops the restore: a stale file left in place would be taken for part of the backup.
            for path in try walk(root).sorted(by: { $0.count > $1.count }) where !wanted.contains(path) {
                let full = root + "/" + path
                var info = stat()
                guard lstat(full, &info) == 0 else {
                    if errno == ENOENT { continue }
                    throw RestoreError(description: "cannot look at \(full): \(String(cString: strerror(errno)))", damaged: false)
                }
                let removed = info.st_mode & S_IFMT == S_IFDIR ? rmdir(full) : unlink(full)
                guard removed == 0 || errno == ENOENT else {
                    throw RestoreError(description: "cannot remove \(full), which the backup does not have: "
                        + String(cString: strerror(errno)), damaged: false)
                }
            }
        }
    }

    /// Relative paths below `root`, descending only into real folders (not through symbolic links).
    private static func walk(_ root: String, _ prefix: String = "") throws -> [String] {
        var result: [String] = []
        let folder = prefix.isEmpty ? root : root + "/" + prefix
        let names: [String]
        do {
            names = try LocalBackup.listFolder(folder) ?? []
        } catch {
            throw RestoreError(description: "\(error)", damaged: false)
        }
        for name in names {
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            result.append(relative)
            var info = stat()
            if lstat(root + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                result += try walk(root, relative)
            }
        }
        return result
    }

    /// Points `tablespace_map` at the new locations (PostgreSQL recreates `pg_tblspc` links from it).
    private static func rewriteTablespaceMap(_ destination: String, locations: [String: String],
                                             owner: (uid: uid_t, gid: gid_t)?) throws {
        let path = destination + "/tablespace_map"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RestoreError(description: "cannot read \(path) to point it at the new tablespace locations: \(error.localizedDescription)",
                               damaged: false)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let oid = String(line.prefix { $0 != " " })
            guard !oid.isEmpty, let location = locations[oid] else { return String(line) }
            return oid + " " + location
        }
        do {
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw RestoreError(description: "cannot rewrite \(path): \(error)", damaged: false)
        }
        chmod(path, 0o600)
        try chown(path, owner)
    }

    /// Puts the segments that make the backup consistent into `pg_wal`, from the archive, checked.
    static func copyArchivedWAL(_ manifest: BackupManifest, into folder: String, repository: BackupRepository,
                                owner: (uid: uid_t, gid: gid_t)?) throws {
        for name in manifest.walSegments {
            let contents: [UInt8]?
            do {
                contents = try repository.fetchWAL(name: name, cluster: manifest.systemIdentifier)
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

    /// Appends the recovery settings to `postgresql.auto.conf` (the restore command, the target, the timeline,
    /// and `archive_mode = off` unless the backup's setting is to be kept) and creates `recovery.signal`.
    static func writeRecoverySettings(manifest: BackupManifest, timeline: UInt32?, options: Options) throws {
        // postgresql.conf strings: a backslash escapes, a quote is doubled.
        func quote(_ text: String) -> String {
            "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
        }
        var lines = ["", "# Written by lifeboat restore of backup \(manifest.id) (cluster \(manifest.systemIdentifier))"]
        if options.archiveMode == .off {
            lines.append("# A restored copy must not archive into the repository it came from "
                + "(lifeboat restore --archive-mode preserve keeps the backup's archive settings).")
            lines.append("archive_mode = 'off'")
        }
        guard let command = options.restoreCommand else {
            if options.target != .latest {
                throw RestoreError(description: "a recovery target needs a restore command (WAL from the archive)",
                                   damaged: false)
            }
            try appendAutoConf(lines, options: options)
            return
        }
        lines.append("restore_command = \(quote(command))")
        if let end = options.recoveryEndCommand { lines.append("recovery_end_command = \(quote(end))") }
        switch options.target {
        case .latest: break
        case .immediate: lines.append("recovery_target = 'immediate'")
        case .time(let time): lines.append("recovery_target_time = \(quote(time))")
        case .lsn(let lsn): lines.append("recovery_target_lsn = \(quote(lsn))")
        case .name(let name): lines.append("recovery_target_name = \(quote(name))")
        }
        if options.target != .latest { lines.append("recovery_target_action = 'promote'") }
        if timeline != nil {
            lines.append("# Another timeline branches off this one's history in the archive; remove this line before "
                + "making standbys of this server.")
        }
        lines.append("recovery_target_timeline = \(quote(timeline.map(String.init) ?? "latest"))")
        try appendAutoConf(lines, options: options)
        let signal = options.destination + "/recovery.signal"
        guard FileManager.default.createFile(atPath: signal, contents: Data(), attributes: [.posixPermissions: 0o600]) else {
            throw RestoreError(description: "cannot create \(signal)", damaged: false)
        }
        try chown(signal, options.owner)
    }

    /// Recovery settings and the value that leaves each one unset. A restore names every one of them at the end
    /// of `postgresql.auto.conf` (PostgreSQL takes the last occurrence), so that settings an earlier restore left in
    /// the backup's configuration (of the server the backup was taken of) cannot stop or steer this recovery.
    static let neutralRecoverySettings: [(String, String)] = [
        ("restore_command", ""), ("recovery_target", ""), ("recovery_target_name", ""), ("recovery_target_time", ""),
        ("recovery_target_xid", ""), ("recovery_target_lsn", ""), ("recovery_target_inclusive", "on"),
        ("recovery_target_action", "pause"), ("recovery_end_command", ""), ("archive_cleanup_command", ""),
    ]

    private static func appendAutoConf(_ lines: [String], options: Options) throws {
        let autoConf = options.destination + "/postgresql.auto.conf"
        let written = Set(lines.compactMap { line in line.split(separator: " ").first.map(String.init) })
        let neutral = neutralRecoverySettings.filter { !written.contains($0.0) }.map { "\($0.0) = '\($0.1)'" }
        let handle = FileHandle(forWritingAtPath: autoConf)
        guard let handle else { throw RestoreError(description: "cannot open \(autoConf)", damaged: false) }
        try handle.seekToEnd()
        let header = Array(lines.prefix { $0.isEmpty || $0.hasPrefix("#") })
        let body = (header + neutral + lines.dropFirst(header.count)).joined(separator: "\n")
        try handle.write(contentsOf: Data(("\n" + body + "\n").utf8))
        try handle.close()
    }

    private static func prepareFolder(_ path: String, delta: Bool, owner: (uid: uid_t, gid: gid_t)?, mode: mode_t) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw RestoreError(description: "\(path) is not a folder", damaged: false, invalidInput: true)
            }
            let contents: [String]
            do {
                contents = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw RestoreError(description: "cannot list \(path): \(error.localizedDescription)", damaged: false)
            }
            if delta && contents.contains("postmaster.pid") {
                throw RestoreError(description: "\(path) has a postmaster.pid: stop the server running on it first",
                                   damaged: false)
            }
            guard contents.isEmpty || delta else {
                throw RestoreError(description: "\(path) is not empty; restore writes only into an empty or new folder",
                                   damaged: false, invalidInput: true)
            }
            chmod(path, mode)
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: mode])
            // The new folder's entry in its parent is made durable with everything restored into it.
            let parent = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if parent >= 0 {
                defer { close(parent) }
                guard fsync(parent) == 0 else {
                    throw RestoreError(description: "cannot fsync the folder above \(path): \(String(cString: strerror(errno)))",
                                       damaged: false)
                }
            }
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
