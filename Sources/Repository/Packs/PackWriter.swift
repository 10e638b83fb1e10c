import Foundation
import Synchronization
import LifeboatCrypto

/// Appends sealed chunk objects to pack files. Workers append concurrently, each to a pack of its own taken from a
/// small pool; a pack that reaches its target size gets its trailer and its name (`packs/<2 hex>/<id>`).
///
/// Packs are not made durable here and no index names them yet: `BackupRepository.publish` makes the store durable
/// once and only then writes the index object that lists them, so an index never points at data a crash could
/// lose. A pack without an index (a killed backup) is a leftover that `repo gc` removes.
public final class PackWriter: Sendable {
    private struct OpenPack: Sendable {
        let id: String
        let upload: any ObjectUpload
        var size = 0
        var entries: [PackEntry] = []
    }

    private struct Finished {
        var records: [PackRecord] = []
        var bytes = 0
    }

    let store: any ObjectStore
    private let codec: ObjectCodec
    private let targetSize: Int
    private let idle = Mutex<[OpenPack]>([])
    private let finished = Mutex(Finished())
    private let claimed = Mutex<Set<ChunkKey>>([])

    init(store: any ObjectStore, codec: ObjectCodec, targetSize: Int) {
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
            try pack.upload.append(object)
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
        return OpenPack(id: id, upload: try store.upload(PackRecord.path(id)))
    }

    /// Writes the trailer (the pack's own list of its chunks, encrypted, then its length as UInt32) and completes
    /// the pack under its name.
    private func seal(_ pack: OpenPack) throws(RepositoryError) {
        guard !pack.entries.isEmpty else { return discard(pack) }
        let record = PackRecord(id: pack.id, entries: pack.entries)
        var trailer = codec.seal(PackListEncoding.encode([record]), kind: .packTrailer, name: pack.id)
        PackListEncoding.append(UInt32(trailer.count), to: &trailer)
        do throws(RepositoryError) {
            try pack.upload.append(trailer)
            try pack.upload.commit()
        } catch {
            discard(pack)
            throw error
        }
        finished.withLock {
            $0.records.append(record)
            $0.bytes += pack.size + trailer.count
        }
    }

    private func discard(_ pack: OpenPack) {
        pack.upload.abort()
    }
}
