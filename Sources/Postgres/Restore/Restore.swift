import Foundation
import Repository
import LifeboatCore
#if canImport(Glibc)
import Glibc
#endif

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

}

import Synchronization
