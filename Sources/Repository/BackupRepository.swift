import Foundation
import Synchronization
import LifeboatCrypto

/// A Lifeboat backup repository: self-describing, encrypted, and the source of truth for restores.
///
/// Layout below its location:
/// - `config`: format version, repository id, chunk size, compression level (plaintext JSON);
/// - `keys/<id>`: the master key wrapped by one passphrase (scrypt + AES-256-GCM);
/// - `packs/<2 hex>/<32 hex>`: file contents as chunk objects packed together (about 16 MiB per pack), each chunk
///   named by HMAC-SHA256 of its plaintext under a key derived from the master key (so equal chunks are stored once
///   and names reveal nothing); each pack ends with its own encrypted list of chunks;
/// - `index/<32 hex>`: which pack holds which chunk, at which offset (encrypted; rebuilt from the packs' trailers
///   when one is lost);
/// - `clusters/<system identifier>`: each PostgreSQL cluster the repository holds (names, version, first seen);
/// - `wal/<system identifier>/<timeline>/<file>`: each cluster's archived WAL segments, `.history`, `.partial` and
///   `.backup` files;
/// - `backups/<id>/manifest`: written last; a backup exists when, and only when, its manifest exists. It names its
///   cluster.
///
/// Format history: 1 (chunk files), 2 (pack files and indexes), 3 (WAL and clusters by system identifier;
/// `repo upgrade` moves a format 2 repository's WAL in place).
///
/// Every object except `config` and `keys/` is compressed and encrypted by `ObjectCodec`.
public final class BackupRepository: Sendable {
    public static let formatVersion = 3
    /// Older formats `repo upgrade` turns into the current one.
    public static let upgradableFormats = [2]
    public static let defaultChunkSize = 128 * 1024
    /// scrypt cost of new key slots: about 0.4 s and 128 MiB per passphrase tried.
    public static let defaultScryptN: UInt64 = 1 << 17

    public let store: any ObjectStore
    public let config: RepositoryConfig
    /// The key file that opened the repository, if a passphrase did.
    public let openedKeyId: String?
    let master: [UInt8]
    let codec: ObjectCodec
    let chunkIdKey: [UInt8]
    /// Which pack holds each chunk; read from `index/` on first use.
    let chunkIndex = ChunkIndex()
    let indexLoading = Mutex(())

    public var location: String { store.location }
    public var id: String { config.id }
    /// Whether the repository still has an older format (opened for `wal fetch` or `repo upgrade` only).
    public var isOlderFormat: Bool { config.format < Self.formatVersion }

    /// Refuses operations that need the current layout on a repository of an older format.
    func requireCurrentFormat() throws(RepositoryError) {
        guard isOlderFormat else { return }
        throw RepositoryError(.outdated, "\(location) has repository format \(config.format); this needs format \(Self.formatVersion)",
                              hint: "upgrade it once, in place: `lifeboat repo upgrade --repo \(location)`")
    }

    init(store: any ObjectStore, config: RepositoryConfig, master: [UInt8], openedKeyId: String?) {
        self.store = store
        self.config = config
        self.master = master
        self.openedKeyId = openedKeyId
        codec = ObjectCodec(key: KeyedHash.derive(master, purpose: "lifeboat v1 object encryption"),
                            repositoryId: config.id, compressionLevel: Int32(config.compressionLevel))
        chunkIdKey = KeyedHash.derive(master, purpose: "lifeboat v1 chunk id")
    }

    /// How the repository is opened.
    public enum Credential: Sendable {
        case passphrase([UInt8])
        /// A file written by `exportKey(to:)`.
        case keyFile(String)
    }

    // MARK: - Creating and opening

    /// Creates a repository at `location` (an empty or missing folder).
    public static func initialize(at location: String, passphrase: [UInt8], label: String? = nil,
                                  compressionLevel: Int = 3, chunkSize: Int = defaultChunkSize,
                                  scryptN: UInt64 = defaultScryptN) throws(RepositoryError) -> BackupRepository {
        try initialize(in: FileStore(root: location), passphrase: passphrase, label: label,
                       compressionLevel: compressionLevel, chunkSize: chunkSize, scryptN: scryptN)
    }

    /// Creates a repository in `store` (an empty folder, or an empty prefix of a bucket, created when missing).
    public static func initialize(in store: any ObjectStore, passphrase: [UInt8], label: String? = nil,
                                  compressionLevel: Int = 3, chunkSize: Int = defaultChunkSize,
                                  scryptN: UInt64 = defaultScryptN) throws(RepositoryError) -> BackupRepository {
        try prepareEmpty(store)
        guard !passphrase.isEmpty else { throw RepositoryError(.refused, "the passphrase is empty") }
        guard (1...19).contains(compressionLevel) else {
            throw RepositoryError(.refused, "compression level \(compressionLevel) is outside 1-19")
        }
        guard chunkSize >= 8192, chunkSize % 8192 == 0, chunkSize <= 16 << 20 else {
            throw RepositoryError(.refused, "chunk size \(chunkSize) must be a multiple of 8 KiB up to 16 MiB")
        }
        let config = RepositoryConfig(format: formatVersion, id: SecureRandom.hex(16), created: Date(),
                                      chunkSize: chunkSize, compressionLevel: compressionLevel)
        let master = SecureRandom.bytes(32)
        let repository = BackupRepository(store: store, config: config, master: master, openedKeyId: nil)
        // The key first, the config last: a folder with a config always has a key.
        let keyId = try repository.writeKey(passphrase: passphrase, label: label, scryptN: scryptN)
        try store.write("config", RepositoryJSON.encode(config), mode: .createNew)
        return BackupRepository(store: store, config: config, master: master, openedKeyId: keyId)
    }

    /// Creates a replica of `source` in `store`: the same repository id and master key under a passphrase of its
    /// own, so `copy(to:)` moves sealed objects as they are (no decryption, no re-encryption) and one key file
    /// opens both. For an offsite copy that must survive the loss of the first repository's passphrase, not its key.
    public static func initialize(in store: any ObjectStore, replicaOf source: BackupRepository, passphrase: [UInt8],
                                  label: String? = nil, scryptN: UInt64 = defaultScryptN) throws(RepositoryError)
        -> BackupRepository {
        try prepareEmpty(store)
        guard !passphrase.isEmpty else { throw RepositoryError(.refused, "the passphrase is empty") }
        let repository = BackupRepository(store: store, config: source.config, master: source.master, openedKeyId: nil)
        let keyId = try repository.writeKey(passphrase: passphrase, label: label, scryptN: scryptN)
        try store.write("config", RepositoryJSON.encode(source.config), mode: .createNew)
        return BackupRepository(store: store, config: source.config, master: source.master, openedKeyId: keyId)
    }

    /// Refuses a store that holds anything (a repository or other data); creates a missing bucket.
    private static func prepareEmpty(_ store: any ObjectStore) throws(RepositoryError) {
        if let bucket = store as? S3Store { try bucket.createBucketIfMissing() }
        if try store.exists("config") {
            throw RepositoryError(.refused, "\(store.location) is already a Lifeboat repository")
        }
        guard try store.list("").isEmpty else {
            throw RepositoryError(.refused, "\(store.location) is not empty; a repository needs a folder (or prefix) of its own")
        }
    }

    /// Reads the plaintext config: whether there is a repository at `location`.
    public static func readConfig(at location: String, allowingOlderFormat: Bool = false) throws(RepositoryError)
        -> RepositoryConfig {
        try readConfig(in: FileStore(root: location), allowingOlderFormat: allowingOlderFormat)
    }

    /// Reads the plaintext config: whether there is a repository in `store`. A repository of an older format that
    /// `repo upgrade` can turn into the current one is refused with that advice, unless `allowingOlderFormat`.
    public static func readConfig(in store: any ObjectStore, allowingOlderFormat: Bool = false) throws(RepositoryError)
        -> RepositoryConfig {
        let location = store.location
        guard let bytes = try store.read("config") else {
            var isFolder: ObjCBool = false
            if store is FileStore, FileManager.default.fileExists(atPath: location, isDirectory: &isFolder), !isFolder.boolValue {
                throw RepositoryError(.notInitialised, "no Lifeboat repository at \(location): it is a file, not a folder",
                                      hint: "--repo names the repository's folder")
            }
            throw RepositoryError(.notInitialised, "no Lifeboat repository at \(location)",
                                  hint: "create one with `lifeboat repo init --repo \(location)`, or check the path")
        }
        let config: RepositoryConfig
        do {
            config = try RepositoryJSON.decoder.decode(RepositoryConfig.self, from: Data(bytes))
        } catch {
            throw RepositoryError(.damaged, "the repository's config is damaged (\(location)/config: \(RepositoryJSON.reason(error)))",
                                  hint: "a copy made with `lifeboat repo copy` has the same config; it is plain JSON")
        }
        guard config.chunkSize >= 8192, config.chunkSize % 8192 == 0, config.chunkSize <= 16 << 20,
              (1...19).contains(config.compressionLevel), config.id.utf8.count == 32,
              config.id.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw RepositoryError(.damaged, "the repository's config is damaged (\(location)/config holds an impossible "
                + "chunk size, compression level or id)", hint: "a copy made with `lifeboat repo copy` has the same config")
        }
        if upgradableFormats.contains(config.format) {
            guard allowingOlderFormat else {
                throw RepositoryError(.outdated, "\(location) has repository format \(config.format); this Lifeboat "
                    + "uses format \(formatVersion) (WAL and backups kept per cluster)",
                    hint: "upgrade it once, in place: `lifeboat repo upgrade --repo \(location)` (safe to interrupt and run again)")
            }
            return config
        }
        guard config.format == formatVersion else {
            throw RepositoryError(.refused, "\(location) has repository format \(config.format); this Lifeboat reads \(formatVersion)",
                                  hint: config.format > formatVersion ? "use a newer Lifeboat" : nil)
        }
        return config
    }

    /// Opens the repository. A passphrase that opens none of its keys gives `.wrongKey`; nothing is written.
    public static func open(at location: String, credential: Credential,
                            allowingOlderFormat: Bool = false) throws(RepositoryError) -> BackupRepository {
        try open(FileStore(root: location), credential: credential, allowingOlderFormat: allowingOlderFormat)
    }

    /// Opens the repository in `store`. A passphrase that opens none of its keys gives `.wrongKey`. A repository of
    /// an older format opens only with `allowingOlderFormat` (for `wal fetch` and `repo upgrade`); everything that
    /// needs the current layout then refuses with `.outdated`.
    public static func open(_ store: any ObjectStore, credential: Credential,
                            allowingOlderFormat: Bool = false) throws(RepositoryError) -> BackupRepository {
        let config = try readConfig(in: store, allowingOlderFormat: allowingOlderFormat)
        switch credential {
        case .keyFile(let path):
            return try openWithKeyFile(store, config: config, path: path)
        case .passphrase(let passphrase):
            return try openWithPassphrase(store, config: config, passphrase: passphrase)
        }
    }

    // MARK: - Keys

    /// Adds a passphrase that opens this repository; returns the new key's id.
    @discardableResult
    public func addKey(passphrase: [UInt8], label: String? = nil,
                       scryptN: UInt64 = defaultScryptN) throws(RepositoryError) -> String {
        guard !passphrase.isEmpty else { throw RepositoryError(.refused, "the new passphrase is empty") }
        return try writeKey(passphrase: passphrase, label: label, scryptN: scryptN)
    }

    /// Every key slot, with the damage found in it (checksum, seal under the master key, check value).
    public func keys() throws(RepositoryError) -> [KeyInfo] {
        try Self.readSlots(store).map { slot in
            var damage = slot.damage
            if damage == nil, let key = slot.key { damage = slotDamage(key) }
            return KeyInfo(id: slot.id, created: slot.key?.created ?? Date(timeIntervalSince1970: 0),
                           host: slot.key?.host ?? "", user: slot.key?.user ?? "", label: slot.key?.label,
                           current: slot.id == openedKeyId, damage: damage)
        }
    }

    /// Removes a key; removing the last one is refused (the repository would be lost).
    public func removeKey(_ id: String) throws(RepositoryError) {
        let ids = try store.list("keys")
        guard ids.contains(id) else { throw RepositoryError(.notFound, "no key \(id) in \(location)") }
        guard ids.count > 1 else {
            throw RepositoryError(.refused, "key \(id) is the repository's last key; removing it would make every backup unreadable",
                                  hint: "add another key first (`lifeboat repo key add`)")
        }
        try store.remove("keys/" + id)
        try store.makeDurable()
    }

    /// Writes the master key to `path` (mode 0600) for unattended commands (`--key-file`).
    public func exportKey(to given: String) throws(RepositoryError) {
        let path = Paths.absolute(given)
        let exported = ExportedKey(repository: config.id, master: Hex.encode(master),
                                   check: KeyCheck.value(master: master, repositoryId: config.id))
        let folder = FileStore(root: (path as NSString).deletingLastPathComponent)
        let wrote = try folder.writeFile((path as NSString).lastPathComponent, RepositoryJSON.encode(exported),
                                         mode: .createNew, permissions: 0o600)
        guard wrote else { throw RepositoryError(.refused, "\(path) exists; not overwriting it") }
    }

    private func writeKey(passphrase: [UInt8], label: String?, scryptN: UInt64) throws(RepositoryError) -> String {
        if let problem = ScryptBounds.problem(n: scryptN, r: 8, p: 1) { throw RepositoryError(.refused, problem) }
        let salt = SecureRandom.bytes(32)
        guard let kek = KeyedHash.scrypt(passphrase: passphrase, salt: salt, n: scryptN, r: 8, p: 1) else {
            throw RepositoryError(.refused, "scrypt refused its parameters (N=\(scryptN))")
        }
        let nonce = SecureRandom.bytes(AESGCM.nonceSize)
        let sealed = master.withUnsafeBytes {
            AESGCM.seal(key: kek, nonce: nonce, plaintext: $0, associatedData: Self.keyAssociatedData(config.id))
        }
        let key = sealedSlot(WrappedKey(n: scryptN, r: 8, p: 1, salt: Hex.encode(salt), nonce: Hex.encode(nonce),
                                        wrapped: Hex.encode(sealed),
                                        created: Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)), host: ProcessInfo.processInfo.hostName,
                                        user: ProcessInfo.processInfo.environment["USER"] ?? String(getuid()), label: label))
        let id = SecureRandom.hex(8)
        try store.write("keys/" + id, RepositoryJSON.encode(key), mode: .createNew)
        try store.makeDurable()
        return id
    }

    // MARK: - Encrypted named objects

    /// Writes an encrypted object (manifests and the like).
    public func putObject(_ plaintext: [UInt8], kind: ObjectKind, path: String, mode: WriteMode)
        throws(RepositoryError) -> Bool {
        try store.write(path, codec.seal(plaintext, kind: kind, name: path), mode: mode)
    }

    /// Reads and decrypts an object; nil when it does not exist.
    public func object(kind: ObjectKind, path: String) throws(RepositoryError) -> [UInt8]? {
        guard let bytes = try store.read(path) else { return nil }
        return try codec.open(bytes, kind: kind, name: path)
    }
}
