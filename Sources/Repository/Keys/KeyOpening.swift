import Foundation
import LifeboatCrypto

/// Opening a repository with a passphrase (one of its key slots) or an exported key file, and telling a wrong
/// key from a damaged one. A key that is not the repository's is refused before anything can be written with it.
extension BackupRepository {
    static func keyAssociatedData(_ repositoryId: String) -> [UInt8] {
        Array("lifeboat key v1\0\(repositoryId)".utf8)
    }

    /// Every `keys/<id>`, decoded where possible. A slot that cannot be read because the store failed is an error.
    static func readSlots(_ store: any ObjectStore) throws(RepositoryError) -> [ReadSlot] {
        var slots: [ReadSlot] = []
        for id in try store.list("keys") where !id.hasPrefix(".tmp-") {
            guard let bytes = try store.read("keys/" + id) else { continue }
            do {
                let key = try RepositoryJSON.decoder.decode(WrappedKey.self, from: Data(bytes))
                slots.append(ReadSlot(id: id, key: key, damage: key.damageWithoutKey))
            } catch {
                slots.append(ReadSlot(id: id, key: nil, damage: "it is not a readable key slot"))
            }
        }
        return slots
    }

    /// What is wrong with a slot once the master key is known: a changed field, or a slot wrapping another key.
    func slotDamage(_ key: WrappedKey) -> String? {
        if let damage = key.damageWithoutKey { return damage }
        if let seal = key.seal, seal != key.computedSeal(master: master) {
            return "its seal does not match: it was changed, or written with another key"
        }
        if let check = key.check, check != KeyCheck.value(master: master, repositoryId: config.id) {
            return "its key check is not this repository's key"
        }
        return nil
    }

    /// A slot with its check value, checksum and seal filled in.
    func sealedSlot(_ key: WrappedKey) -> WrappedKey {
        var key = key
        key.check = KeyCheck.value(master: master, repositoryId: config.id)
        key.checksum = nil
        key.seal = nil
        key.checksum = key.computedChecksum
        key.seal = key.computedSeal(master: master)
        return key
    }

    static func openWithPassphrase(_ store: any ObjectStore, config: RepositoryConfig,
                                   passphrase: [UInt8]) throws(RepositoryError) -> BackupRepository {
        let slots = try readSlots(store)
        for slot in slots {
            guard let key = slot.key, ScryptBounds.problem(n: key.n, r: key.r, p: key.p) == nil,
                  let master = unwrap(key, passphrase: passphrase, repositoryId: config.id) else { continue }
            let repository = BackupRepository(store: store, config: config, master: master, openedKeyId: slot.id)
            if key.seal == nil || key.checksum == nil || key.check == nil {
                // A slot from before key checks: record its check value so that key files can be proven against it.
                // Where the store refuses the write (read-only credentials), the slot stays as it was and key
                // files are proven against the repository's data instead.
                _ = try? store.write("keys/" + slot.id, RepositoryJSON.encode(repository.sealedSlot(key)), mode: .replace)
            }
            return repository
        }
        let damaged = slots.filter { $0.damage != nil }
        let location = store.location
        if let first = damaged.first {
            let names = damaged.map { "\($0.id) (\($0.damage!))" }.joined(separator: ", ")
            throw RepositoryError(.damaged,
                "the passphrase opens none of the \(slots.count - damaged.count) sound key slots of \(location), "
                    + "and key slot\(damaged.count == 1 ? "" : "s") \(names) \(damaged.count == 1 ? "is" : "are") damaged",
                hint: "if this passphrase belongs to key \(first.id), open the repository with an exported key file "
                    + "(--key-file) or another passphrase and add it again (`lifeboat repo key add`), then remove the "
                    + "damaged slot (`lifeboat repo key remove \(first.id)`)")
        }
        throw RepositoryError(.wrongKey, "wrong passphrase: it opens none of the \(slots.count) keys of repository \(location)",
                              hint: "check LIFEBOAT_PASSPHRASE or --passphrase-file; `lifeboat repo key list` shows the keys")
    }

    static func openWithKeyFile(_ store: any ObjectStore, config: RepositoryConfig,
                                path: String) throws(RepositoryError) -> BackupRepository {
        let bytes = try readKeyFile(path)
        let refusal = "key file \(path) does not open this repository"
        guard let exported = try? RepositoryJSON.decoder.decode(ExportedKey.self, from: Data(bytes)) else {
            throw RepositoryError(.wrongKey, "\(refusal): it is truncated or not a Lifeboat key file",
                                  hint: "export a new one with `lifeboat repo key export --to FILE` (with a passphrase)")
        }
        guard exported.repository == config.id else {
            throw RepositoryError(.wrongKey, "\(refusal): it belongs to another repository (\(exported.repository))")
        }
        guard let master = Hex.decode(exported.master), master.count == 32 else {
            throw RepositoryError(.wrongKey, "\(refusal): its key is damaged (not 64 hexadecimal digits)")
        }
        let check = KeyCheck.value(master: master, repositoryId: config.id)
        if let stored = exported.check, stored != check {
            throw RepositoryError(.wrongKey, "\(refusal): it is damaged (its key does not match its own check value)",
                                  hint: "export a new one with `lifeboat repo key export --to FILE` (with a passphrase)")
        }
        let repository = BackupRepository(store: store, config: config, master: master, openedKeyId: nil)
        // A match with any slot's check value is proof (even in a slot damaged elsewhere); a sound slot's check
        // that does not match is a refusal.
        let slots = try readSlots(store)
        if slots.contains(where: { $0.key?.check == check }) { return repository }
        if slots.contains(where: { $0.damage == nil && $0.key?.check != nil }) {
            throw RepositoryError(.wrongKey, "\(refusal): its key matches none of the repository's key checks",
                                  hint: "the file is damaged or belongs to a repository with the same id; export a new one")
        }
        // Key slots from before key checks: prove the key against an object it must decrypt.
        guard try repository.keyDecryptsData() else {
            throw RepositoryError(.wrongKey, "cannot prove that key file \(path) opens this repository: its key slots "
                + "predate key checks and it holds no data yet",
                hint: "open it once with the passphrase (e.g. `lifeboat repo key list`) to record the key check")
        }
        return repository
    }

    /// Whether the master key decrypts one of the repository's objects; false when there is none to try.
    /// Throws `.wrongKey` when every object tried fails authentication.
    private func keyDecryptsData() throws(RepositoryError) -> Bool {
        var candidates: [(String, ObjectKind)] = []
        for name in try store.list("clusters").prefix(2) where !name.hasPrefix(".tmp-") {
            candidates.append(("clusters/" + name, .cluster))
        }
        for id in try store.list("backups").prefix(2) where BackupManifest.isValidId(id) {
            candidates.append((Self.manifestPath(id), .manifest))
        }
        guard !candidates.isEmpty else { return false }
        for (path, kind) in candidates {
            guard let sealed = try store.read(path) else { continue }
            if (try? codec.open(sealed, kind: kind, name: path)) != nil { return true }
        }
        throw RepositoryError(.wrongKey, "the key file does not open this repository: it decrypts none of its objects",
                              hint: "the file is damaged; export a new one with `lifeboat repo key export --to FILE`")
    }

    /// The bytes of a key file; a file that cannot be read is named with the reason (not a wrong key).
    static func readKeyFile(_ path: String) throws(RepositoryError) -> [UInt8] {
        // Non-blocking, so that a FIFO cannot stall an archive_command; then only a regular file is read.
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw RepositoryError(.refused, "cannot read key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw RepositoryError(.refused, "cannot read key file \(path): it is not a regular file")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw RepositoryError(.refused, "cannot read key file \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
            guard bytes.count <= 1 << 16 else {
                throw RepositoryError(.wrongKey, "key file \(path) does not open this repository: it is not a Lifeboat key file")
            }
        }
        return bytes
    }

    static func unwrap(_ key: WrappedKey, passphrase: [UInt8], repositoryId: String) -> [UInt8]? {
        guard key.kdf == "scrypt", let salt = Hex.decode(key.salt), let nonce = Hex.decode(key.nonce),
              let sealed = Hex.decode(key.wrapped),
              let kek = KeyedHash.scrypt(passphrase: passphrase, salt: salt, n: key.n, r: key.r, p: key.p)
        else { return nil }
        return sealed.withUnsafeBytes {
            AESGCM.open(key: kek, nonce: nonce, sealed: $0, associatedData: keyAssociatedData(repositoryId))
        }
    }
}
