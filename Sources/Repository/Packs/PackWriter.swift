import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Appends sealed chunk objects to pack files. Workers append concurrently, each to a pack of its own taken from a
/// small pool; a pack that reaches its target size gets its trailer and its name (`packs/<2 hex>/<id>`).
///
/// Packs are not synced here and no index names them yet: `BackupRepository.publish` syncs the file system once and
/// only then writes the index object that lists them, so an index never points at data a crash could lose. A pack
/// without an index (a killed backup) is a leftover that `repo gc` removes.
public final class PackWriter: Sendable {
    private struct OpenPack: Sendable {
        let id: String
        let temporary: String
        let descriptor: Int32
        var size = 0
        var entries: [PackEntry] = []
    }

    private struct Finished {
        var records: [PackRecord] = []
        var bytes = 0
    }

    let store: FileStore
    private let codec: ObjectCodec
    private let targetSize: Int
    private let idle = Mutex<[OpenPack]>([])
    private let finished = Mutex(Finished())
    private let claimed = Mutex<Set<ChunkKey>>([])

    init(store: FileStore, codec: ObjectCodec, targetSize: Int) {
        self.store = store
        self.codec = codec
        self.targetSize = targetSize
    }

    /// True when `key` was not claimed before by this writer: the caller then seals and appends the chunk.
    func claim(_ key: ChunkKey) -> Bool {
        claimed.withLock { $0.insert(key).inserted }
    }

    /// Appends one sealed chunk object.
    func append(_ key: ChunkKey, object: [UInt8]) throws(RepositoryError) {
        var pack: OpenPack
        if let available = idle.withLock({ $0.popLast() }) {
            pack = available
        } else {
            pack = try openPack()
        }
        do throws(RepositoryError) {
            try Self.write(object, to: pack.descriptor, path: pack.temporary)
        } catch {
            discard(pack)
            throw error
        }
        pack.entries.append(PackEntry(key: key, offset: UInt32(pack.size), length: UInt32(object.count)))
        pack.size += object.count
        if pack.size >= targetSize {
            try seal(pack)
        } else {
            idle.withLock { $0.append(pack) }
        }
    }

    /// Bytes in packs that are complete but not yet listed by an index.
    var finishedBytes: Int { finished.withLock { $0.bytes } }

    /// The packs completed since the last call; the caller publishes them.
    func takeFinished() -> [PackRecord] {
        finished.withLock { finished in
            defer { finished = Finished() }
            return finished.records
        }
    }

    /// Completes every open pack and returns all packs not yet taken.
    func finish() throws(RepositoryError) -> [PackRecord] {
        let open = idle.withLock { packs in
            defer { packs = [] }
            return packs
        }
        for (number, pack) in open.enumerated() {
            do throws(RepositoryError) {
                try seal(pack)
            } catch {
                for rest in open[(number + 1)...] { discard(rest) }
                throw error
            }
        }
        return takeFinished()
    }

    /// Removes the packs still open (a backup that failed); complete ones are left for `repo gc`.
    func abandon() {
        let open = idle.withLock { packs in
            defer { packs = [] }
            return packs
        }
        open.forEach(discard)
    }

    private func openPack() throws(RepositoryError) -> OpenPack {
        let id = SecureRandom.hex(16)
        let folder = store.path("packs/\(id.prefix(2))")
        try store.makeFolder(folder)
        let temporary = folder + "/.tmp-" + id
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileStore.ioError("cannot create \(temporary)") }
        return OpenPack(id: id, temporary: temporary, descriptor: descriptor)
    }

    /// Writes the trailer (the pack's own list of its chunks, encrypted, then its length as UInt32) and renames the
    /// pack to its id.
    private func seal(_ pack: OpenPack) throws(RepositoryError) {
        guard !pack.entries.isEmpty else { return discard(pack) }
        let record = PackRecord(id: pack.id, entries: pack.entries)
        var trailer = codec.seal(PackListEncoding.encode([record]), kind: .packTrailer, name: pack.id)
        PackListEncoding.append(UInt32(trailer.count), to: &trailer)
        do throws(RepositoryError) {
            try Self.write(trailer, to: pack.descriptor, path: pack.temporary)
        } catch {
            discard(pack)
            throw error
        }
        close(pack.descriptor)
        guard rename(pack.temporary, store.path(record.path)) == 0 else {
            let error = FileStore.ioError("cannot rename \(pack.temporary)")
            unlink(pack.temporary)
            throw error
        }
        finished.withLock {
            $0.records.append(record)
            $0.bytes += pack.size + trailer.count
        }
    }

    private func discard(_ pack: OpenPack) {
        close(pack.descriptor)
        unlink(pack.temporary)
    }

    private static func write(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(RepositoryError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw FileStore.ioError("cannot write \(path)") }
            done += count
        }
    }
}
