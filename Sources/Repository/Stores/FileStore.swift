import Foundation
import Synchronization
import LifeboatCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Objects as files below a folder. Every write is atomic and durable: a temporary name in the target folder,
/// `fsync`, then `rename` (replace) or `link` (create only, never overwriting), then `fsync` of the folder.
///
/// Run as root in a folder another user owns (the server's user, whose `archive_command` writes WAL here), new
/// files and folders are given to that user, so that what root wrote never locks the server's user out.
public struct FileStore: ObjectStore {
    public let root: String
    /// Who new files and folders belong to, when running as root in a folder root does not own.
    let owner: (uid: uid_t, gid: gid_t)?

    public var location: String { root }
    public var preferredConcurrency: Int { max(2, ProcessInfo.processInfo.activeProcessorCount) }

    /// A relative `root` means the current directory.
    public init(root: String) {
        self.root = Paths.absolute(root)
        var info = stat()
        if geteuid() == 0, stat(self.root.isEmpty ? "/" : self.root, &info) == 0, info.st_uid != 0 {
            owner = (info.st_uid, info.st_gid)
        } else {
            owner = nil
        }
    }

    public func path(_ relative: String) -> String { root + "/" + relative }

    /// Gives a new file or folder to the repository's owner (see the type's comment).
    func adopt(descriptor: Int32) {
        if let owner { fchown(descriptor, owner.uid, owner.gid) }
    }

    /// Whether the file exists; an error other than "no such file" (a folder that cannot be read) is not "no".
    public func exists(_ relative: String) throws(RepositoryError) -> Bool {
        try status(relative) != nil
    }

    /// `stat` of a file; nil when it does not exist. Other failures are errors.
    private func status(_ relative: String) throws(RepositoryError) -> stat? {
        var info = stat()
        guard stat(path(relative), &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.ioError("cannot look at \(path(relative))")
        }
        return info
    }

    /// The file's bytes, or nil when it does not exist.
    public func read(_ relative: String) throws(RepositoryError) -> [UInt8]? {
        let full = path(relative)
        let descriptor = open(full, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            // Absent: no such name, or a path component that is a file (nothing can be below it).
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.ioError("cannot open \(full)")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw Self.ioError("cannot stat \(full)") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw RepositoryError(.damaged, "\(full) is not a file (a folder or another kind stands where an object should be)")
        }
        let size = Int(info.st_size)
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            var done = 0
            while done < size {
                let got = pread(descriptor, buffer.baseAddress! + done, size - done, off_t(done))
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else {
                    failed = true
                    break
                }
                done += got
            }
            count = failed ? 0 : size
        }
        guard !failed else { throw Self.ioError("cannot read \(full)") }
        return bytes
    }

    /// Up to `count` bytes at `offset` (fewer when the file is shorter), or nil when the file does not exist.
    public func read(_ relative: String, offset: Int, count: Int) throws(RepositoryError) -> [UInt8]? {
        let full = path(relative)
        let descriptor = open(full, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            // Absent: no such name, or a path component that is a file (nothing can be below it).
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw Self.ioError("cannot open \(full)")
        }
        defer { close(descriptor) }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, done in
            done = 0
            while done < count {
                let got = pread(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if got < 0 && errno == EINTR { continue }
                if got < 0 { failed = true }
                guard got > 0 else { break }
                done += got
            }
        }
        guard !failed else { throw Self.ioError("cannot read \(full)") }
        return bytes
    }

    /// When the file was last written (objects are written once: when it was stored), or nil when it does not exist.
    public func modificationTime(_ relative: String) throws(RepositoryError) -> Date? {
        guard let info = try status(relative) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec) + TimeInterval(info.st_mtim.tv_nsec) / 1e9)
    }

    /// The file's size, or nil when it does not exist.
    public func size(_ relative: String) throws(RepositoryError) -> Int? {
        try status(relative).map { Int($0.st_size) }
    }

    public typealias WriteMode = Repository.WriteMode

    /// Writes `bytes` at `relative` (mode 0600; the plaintext `config` 0644), durably.
    @discardableResult
    public func write(_ relative: String, _ bytes: [UInt8], mode: WriteMode, storedAt: Date?) throws(RepositoryError) -> Bool {
        try writeFile(relative, bytes, mode: mode, permissions: relative == "config" ? 0o644 : 0o600, storedAt: storedAt)
    }

    /// Writes `bytes` at `relative`. Returns false when `createNew` found the name taken (nothing written).
    /// With `syncDirectory: false` the caller must call `syncDirectory` before relying on the name (batching).
    @discardableResult
    public func writeFile(_ relative: String, _ bytes: [UInt8], mode: WriteMode, permissions: mode_t = 0o600,
                          syncDirectory: Bool = true, storedAt: Date? = nil) throws(RepositoryError) -> Bool {
        let full = path(relative)
        let folder = (full as NSString).deletingLastPathComponent
        try makeFolder(folder)
        let temporary = folder + "/.tmp-" + SecureRandom.hex(8)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
        guard descriptor >= 0 else { throw Self.ioError("cannot create \(temporary)") }
        fchmod(descriptor, permissions)
        adopt(descriptor: descriptor)
        var closed = false
        defer {
            if !closed { close(descriptor) }
            unlink(temporary)
        }
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw Self.ioError("cannot write \(temporary)") }
            done += count
        }
        if let storedAt {
            let seconds = storedAt.timeIntervalSince1970.rounded(.down)
            var times = [timespec(tv_sec: Int(seconds), tv_nsec: Int((storedAt.timeIntervalSince1970 - seconds) * 1e9)),
                         timespec(tv_sec: Int(seconds), tv_nsec: Int((storedAt.timeIntervalSince1970 - seconds) * 1e9))]
            guard futimens(descriptor, &times) == 0 else { throw Self.ioError("cannot set the time of \(temporary)") }
        }
        guard fsync(descriptor) == 0 else { throw Self.ioError("cannot fsync \(temporary)") }
        close(descriptor)
        closed = true
        switch mode {
        case .replace:
            guard rename(temporary, full) == 0 else { throw Self.ioError("cannot rename \(temporary) to \(full)") }
        case .createNew:
            if link(temporary, full) != 0 {
                if errno == EEXIST { return false }
                throw Self.ioError("cannot link \(temporary) to \(full)")
            }
        }
        if syncDirectory { try self.syncDirectory(folder) }
        return true
    }

    /// Makes renames and links in `folder` durable.
    public func syncDirectory(_ folder: String) throws(RepositoryError) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.ioError("cannot open folder \(folder)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw Self.ioError("cannot fsync folder \(folder)") }
    }

    /// Names in a folder (not starting with `.`), sorted; empty when the folder does not exist. A folder that
    /// exists but cannot be read is an error, never an empty answer.
    public func list(_ relative: String) throws(RepositoryError) -> [String] {
        guard access(path(relative), F_OK) == 0 else { return [] }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path(relative)).filter { !$0.hasPrefix(".") }.sorted()
        } catch {
            throw RepositoryError(.io, "cannot list \(path(relative)): \(error.localizedDescription)")
        }
    }

    /// Every file below a folder, at any depth (temporaries too).
    public func listAll(_ relative: String) throws(RepositoryError) -> [StoredObject] {
        let base = path(relative)
        guard access(base, F_OK) == 0 else { return [] }
        let failure = Mutex<String?>(nil)
        let baseURL = URL(fileURLWithPath: base)
        let walker = FileManager.default.enumerator(at: baseURL, includingPropertiesForKeys: nil,
                                                    options: []) { url, error in
            failure.withLock { $0 = $0 ?? "\(url.path): \(error.localizedDescription)" }
            return false
        }
        var result: [StoredObject] = []
        while let url = walker?.nextObject() as? URL {
            var info = stat()
            guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            guard url.path.hasPrefix(baseURL.path + "/") else { continue }
            let name = String(url.path.dropFirst(baseURL.path.count + 1))
            result.append(StoredObject(path: relative.isEmpty ? name : relative + "/" + name, size: Int(info.st_size)))
        }
        if let problem = failure.withLock({ $0 }) { throw RepositoryError(.io, "cannot list \(problem)") }
        return result.sorted { $0.path < $1.path }
    }

    public func remove(_ relative: String) throws(RepositoryError) {
        if unlink(path(relative)) != 0 && errno != ENOENT { throw Self.ioError("cannot remove \(path(relative))") }
    }

    public func removeEmptyFolders(_ relative: String) throws(RepositoryError) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: path(relative))) ?? [] {
            let child = relative + "/" + name
            var info = stat()
            guard stat(path(child), &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            try removeEmptyFolders(child)
            if ((try? FileManager.default.contentsOfDirectory(atPath: path(child))) ?? [""]).isEmpty {
                rmdir(path(child))
            }
        }
    }

    /// One `syncfs` of the file system holding the repository.
    public func makeDurable() throws(RepositoryError) {
        try FileSystemSync.syncAll(root)
    }

    public func upload(_ relative: String) throws(RepositoryError) -> any ObjectUpload {
        try FileUpload(store: self, path: relative)
    }

    public func lock(_ mode: RepositoryLock.Mode, timeout: TimeInterval) throws(RepositoryError) -> any StoreLock {
        try FileLock.acquire(self, mode, timeout: timeout)
    }

    /// Creates a folder and the folders above it that are missing (mode 0700, the repository's owner).
    func makeFolder(_ folder: String) throws(RepositoryError) {
        if access(folder, F_OK) == 0 { return }
        let parent = (folder as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != folder { try makeFolder(parent) }
        guard mkdir(folder, 0o700) == 0 else {
            if errno == EEXIST { return }
            throw Self.ioError("cannot create folder \(folder)")
        }
        if let owner { chown(folder, owner.uid, owner.gid) }
        // The new folder's name must survive a crash as the files written into it will.
        if !parent.isEmpty { try syncDirectory(parent) }
    }

    static func ioError(_ what: String) -> RepositoryError {
        RepositoryError(.io, "\(what): \(String(cString: strerror(errno)))")
    }
}
