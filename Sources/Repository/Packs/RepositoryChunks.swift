import Foundation
import LifeboatCrypto

extension BackupRepository {
    /// Packs are closed at about this size.
    public static let packTargetSize = 16 << 20
    /// A long backup lists its completed packs in an index object after about this many bytes, so that a backup
    /// killed late keeps most of its work for the next one.
    static let indexCheckpointBytes = 1 << 30

    /// The chunk id of `plaintext`: HMAC-SHA256 under the chunk-id key, as hex.
    public func chunkId(_ plaintext: UnsafeRawBufferPointer) -> String {
        Hex.encode(KeyedHash.hmacSHA256(key: chunkIdKey, plaintext))
    }

    /// A writer for one backup's new chunks (see `stageChunk` and `publish`); packs close at about `targetSize`.
    public func packWriter(targetSize: Int = packTargetSize) -> PackWriter {
        PackWriter(store: store, codec: codec, targetSize: targetSize)
    }

    /// Appends a chunk to one of `writer`'s packs unless the repository or the writer already holds its content.
    /// Returns its id and the bytes written (0 when it was present). The chunk is usable only after `publish`.
    public func stageChunk(_ plaintext: UnsafeRawBufferPointer, in writer: PackWriter) throws(RepositoryError)
        -> (id: String, written: Int) {
        let digest = KeyedHash.hmacSHA256(key: chunkIdKey, plaintext)
        let key = digest.withUnsafeBytes { ChunkKey($0) }
        let id = Hex.encode(digest)
        if try loadedIndex().contains(key) || !writer.claim(key) { return (id, 0) }
        let object = codec.seal(plaintext, kind: .chunk, name: id)
        try writer.append(key, object: object)
        if writer.finishedBytes >= Self.indexCheckpointBytes {
            try publish(writer.takeFinished())
        }
        return (id, object.count)
    }

    /// Completes `writer`'s packs and publishes them: after this, a manifest may refer to its chunks.
    public func publish(_ writer: PackWriter) throws(RepositoryError) {
        do throws(RepositoryError) {
            try publish(writer.finish())
        } catch {
            writer.abandon()
            throw error
        }
    }

    /// Makes complete packs durable (one file-system sync), then lists them in a new index object.
    func publish(_ records: [PackRecord]) throws(RepositoryError) {
        guard !records.isEmpty else { return }
        try store.makeDurable()
        try writeIndex(records)
        chunkIndex.add(records)
    }

    /// Stores one chunk durably at once (a pack of its own). Backups use `stageChunk` and `publish` instead.
    public func putChunk(_ plaintext: UnsafeRawBufferPointer) throws(RepositoryError) -> (id: String, written: Int) {
        let writer = packWriter()
        let stored = try stageChunk(plaintext, in: writer)
        try publish(writer)
        return stored
    }

    public func hasChunk(_ id: String) -> Bool {
        guard let key = ChunkKey(hex: id) else { return false }
        return (try? loadedIndex().contains(key)) ?? false
    }

    /// Where a chunk's object is stored: the pack file (relative to the repository), offset and length.
    public func chunkLocation(_ id: String) throws(RepositoryError) -> (path: String, offset: Int, length: Int)? {
        guard let key = ChunkKey(hex: id), let location = try loadedIndex().location(key) else { return nil }
        return (PackRecord.path(location.pack), location.offset, location.length)
    }

    /// A chunk's plaintext, checked: it authenticates, and its keyed hash equals its id.
    public func chunk(_ id: String) throws(RepositoryError) -> [UInt8] {
        guard let location = try chunkLocation(id) else {
            throw RepositoryError(.damaged, "chunk \(id) is missing: no index lists it")
        }
        guard let object = try store.read(location.path, offset: location.offset, count: location.length) else {
            throw RepositoryError(.damaged, "chunk \(id) is missing: its pack \(location.path) does not exist")
        }
        guard object.count == location.length else {
            throw RepositoryError(.damaged, "chunk \(id) is missing: its pack \(location.path) is truncated")
        }
        let plaintext = try codec.open(object, kind: .chunk, name: id)
        let actual = plaintext.withUnsafeBytes { chunkId($0) }
        guard actual == id else { throw RepositoryError(.damaged, "chunk \(id) holds other content (\(actual))") }
        return plaintext
    }

    // MARK: - Index objects

    /// The index, read on first use by one thread while the others wait (restores start many workers at once).
    func loadedIndex() throws(RepositoryError) -> ChunkIndex {
        if chunkIndex.isLoaded { return chunkIndex }
        try indexLoading.withLock { _ throws(RepositoryError) in
            if !chunkIndex.isLoaded { chunkIndex.load(try indexObjects().flatMap(\.records)) }
        }
        return chunkIndex
    }

    /// Every index object with the packs it lists; a damaged one is an error (never a silently smaller index).
    func indexObjects() throws(RepositoryError) -> [(name: String, records: [PackRecord])] {
        var result: [(String, [PackRecord])] = []
        for name in try store.list("index") {
            let path = "index/" + name
            guard let bytes = try object(kind: .index, path: path) else { continue }
            guard let records = PackListEncoding.decode(bytes) else {
                throw RepositoryError(.damaged, "index \(name) is not a list of packs")
            }
            result.append((path, records))
        }
        return result
    }

    @discardableResult
    func writeIndex(_ records: [PackRecord]) throws(RepositoryError) -> String {
        let path = "index/" + SecureRandom.hex(16)
        guard try putObject(PackListEncoding.encode(records), kind: .index, path: path, mode: .createNew) else {
            throw RepositoryError(.conflict, "index \(path) exists")
        }
        return path
    }

    /// The pack's own list of its chunks, read from its end.
    func packTrailer(_ id: String) throws(RepositoryError) -> PackRecord {
        let path = PackRecord.path(id)
        guard let size = try store.size(path), size >= 4,
              let tail = try store.read(path, offset: size - 4, count: 4), tail.count == 4 else {
            throw RepositoryError(.damaged, "pack \(id) is missing or truncated")
        }
        let length = Int(tail.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) })
        guard length + 4 <= size, let sealed = try store.read(path, offset: size - 4 - length, count: length),
              sealed.count == length else {
            throw RepositoryError(.damaged, "pack \(id) has no readable trailer")
        }
        let plaintext = try codec.open(sealed, kind: .packTrailer, name: id)
        guard let records = PackListEncoding.decode(plaintext), records.count == 1, records[0].id == id else {
            throw RepositoryError(.damaged, "pack \(id) has a trailer for another pack")
        }
        return records[0]
    }
}
