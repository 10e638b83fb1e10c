import Foundation

/// How `ObjectStore.write` treats a name that exists.
public enum WriteMode: Sendable {
    /// Replace whatever is there.
    case replace
    /// Create; if the name exists, leave it alone and report it.
    case createNew
}

/// One object found by `ObjectStore.listAll`.
public struct StoredObject: Sendable, Hashable {
    /// Relative to the store's root, e.g. `packs/3f/3f5e…`.
    public var path: String
    public var size: Int

    public init(path: String, size: Int) {
        self.path = path
        self.size = size
    }

    /// The last component of the path.
    public var name: String { path.split(separator: "/").last.map(String.init) ?? path }
}

/// Where a repository keeps its objects: a folder (`FileStore`) or an S3-compatible bucket (`S3Store`).
///
/// Names are relative paths with `/` between folders. Every operation either does what it says or throws: a store
/// that cannot list must not answer "nothing here", and a read that gets fewer bytes than the object holds must not
/// return them as the object.
public protocol ObjectStore: Sendable {
    /// Where the objects are, as the operator wrote it (a folder, or `s3://bucket/prefix`).
    var location: String { get }
    /// How many reads a restore keeps in flight: the cores for a disk, more for object storage (latency-bound).
    var preferredConcurrency: Int { get }

    /// The object's bytes, or nil when it does not exist.
    func read(_ path: String) throws(RepositoryError) -> [UInt8]?
    /// `count` bytes at `offset` (fewer only when the object ends before), or nil when it does not exist.
    func read(_ path: String, offset: Int, count: Int) throws(RepositoryError) -> [UInt8]?
    /// The object's size, or nil when it does not exist.
    func size(_ path: String) throws(RepositoryError) -> Int?
    /// When the object was stored (objects are written once), or nil when it does not exist.
    func modificationTime(_ path: String) throws(RepositoryError) -> Date?
    func exists(_ path: String) throws(RepositoryError) -> Bool
    /// Stores `bytes` at `path`, atomically: readers see the old object, no object, or all of the new one.
    /// Returns false when `createNew` found the name taken (nothing written). `storedAt` gives the object the time
    /// it was first stored elsewhere (a WAL file moved by `repo upgrade` keeps its archive time); nil: now.
    @discardableResult
    func write(_ path: String, _ bytes: [UInt8], mode: WriteMode, storedAt: Date?) throws(RepositoryError) -> Bool
    /// Names directly below a folder (objects and sub-folders, not temporaries), sorted; empty when there is none.
    func list(_ folder: String) throws(RepositoryError) -> [String]
    /// Every object below a folder, at any depth, temporaries of interrupted writers included.
    func listAll(_ folder: String) throws(RepositoryError) -> [StoredObject]
    /// Removes an object; removing one that does not exist is not an error.
    func remove(_ path: String) throws(RepositoryError)
    /// Removes folders left empty below `folder` (object stores have no folders: nothing to do).
    func removeEmptyFolders(_ folder: String) throws(RepositoryError)
    /// Makes everything written so far durable. A repository calls it before writing an object that refers to
    /// earlier ones (an index naming packs), so a crash can never leave a reference to lost data.
    func makeDurable() throws(RepositoryError)
    /// Starts writing a large object piece by piece (pack files); it appears under `path` only on `commit`.
    func upload(_ path: String) throws(RepositoryError) -> any ObjectUpload
    /// Takes the repository lock: shared for backups, exclusive for gc and expire.
    func lock(_ mode: RepositoryLock.Mode, timeout: TimeInterval) throws(RepositoryError) -> any StoreLock
}

/// A large object being written: appended to, then committed (or aborted, leaving nothing).
public protocol ObjectUpload: AnyObject, Sendable {
    func append(_ bytes: [UInt8]) throws(RepositoryError)
    /// Completes the object under its name. Durability follows `ObjectStore.makeDurable`.
    func commit() throws(RepositoryError)
    /// Drops what was written; never throws (a leftover is cleaned up by `repo gc`).
    func abort()
}

/// A held repository lock, released when the value is released.
public protocol StoreLock: AnyObject, Sendable {
    /// Throws `.locked` when the lock may no longer be held (a lease that lapsed, a lock object removed): called
    /// right before committing what the lock protects.
    func confirm() throws(RepositoryError)
}

extension StoreLock {
    /// A lock that cannot lapse while its process lives (an `flock`).
    public func confirm() throws(RepositoryError) {}
}

extension ObjectStore {
    /// Stores `bytes` at `path` now (see `write(_:_:mode:storedAt:)`).
    @discardableResult
    public func write(_ path: String, _ bytes: [UInt8], mode: WriteMode) throws(RepositoryError) -> Bool {
        try write(path, bytes, mode: mode, storedAt: nil)
    }

    /// The parent folder of a path ("" at the root).
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
}

/// Opens the store a repository location names: `s3://BUCKET/PREFIX` or a folder.
public enum ObjectStores {
    public static func isS3(_ location: String) -> Bool { location.hasPrefix("s3://") }

    /// The store for `location`. S3 settings come from `s3` (the inventory) completed by the environment
    /// (`AWS_*` variables); a folder needs none.
    public static func store(for location: String, s3: S3Settings = S3Settings(),
                             environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(RepositoryError) -> any ObjectStore {
        guard isS3(location) else { return FileStore(root: location) }
        return try S3Store(location: location, settings: s3, environment: environment)
    }
}
