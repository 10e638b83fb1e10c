import Foundation
import LifeboatCrypto
import LifeboatCore

/// A `git bundle` of a mirrored repository, stored as chunks like a backup's files (equal content is stored once).
public struct BundleManifest: Codable, Sendable {
    public var format = 1
    public var id: String
    /// The git source's name in the inventory.
    public var source: String
    public var created: Date
    /// `created` in nanoseconds since 1970 (JSON dates keep whole seconds): orders bundles made in one second.
    public var createdNanoseconds: Int64
    public var size: Int64
    public var chunkSize: Int
    public var chunks: [String]
    /// The refs the bundle holds (`ref → sha`).
    public var refs: [String: String]
    public var newStoredBytes: Int64

    enum CodingKeys: String, CodingKey {
        case format, id, source, created, size, chunks, refs
        case chunkSize = "chunk_size", newStoredBytes = "new_stored_bytes", createdNanoseconds = "created_ns"
    }
}

extension ObjectKind {
    public static let bundle = ObjectKind(rawValue: "git-bundle")
}

extension BackupRepository {
    static func bundlePath(_ id: String) -> String { "bundles/\(id)" }

    /// Stores the bundle file at `file` for `source`; its manifest is written last, after its chunks are durable.
    public func storeBundle(source: String, file: String, refs: [String: String]) throws(RepositoryError) -> BundleManifest {
        let lock = try RepositoryLock.acquire(self, .shared, timeout: 600)
        defer { withExtendedLifetime(lock) {} }
        guard let handle = FileHandle(forReadingAtPath: file) else {
            throw RepositoryError(.io, "cannot open the bundle \(file)")
        }
        defer { try? handle.close() }
        let pipeline = ChunkPipeline(repository: self, workers: ProcessInfo.processInfo.activeProcessorCount)
        var slots: [Int] = []
        var size: Int64 = 0
        do throws(RepositoryError) {
            while true {
                let data: Data?
                do {
                    data = try handle.read(upToCount: config.chunkSize)
                } catch {
                    throw RepositoryError(.io, "cannot read the bundle \(file): \(error.localizedDescription)")
                }
                guard let data, !data.isEmpty else { break }
                size += Int64(data.count)
                slots.append(try pipeline.submit([UInt8](data)))
            }
        } catch {
            pipeline.abandon()
            throw error
        }
        let stored = try pipeline.finish()
        let id = Formatted.compactTimestamp(Date()) + "-" + SecureRandom.hex(4)
        let now = Date()
        let manifest = BundleManifest(id: id, source: source, created: now,
                                      createdNanoseconds: Int64(now.timeIntervalSince1970 * 1e9), size: size,
                                      chunkSize: config.chunkSize,
                                      chunks: slots.map { stored.ids[$0] }, refs: refs, newStoredBytes: stored.newBytes)
        try lock.confirm()
        guard try putObject(RepositoryJSON.encode(manifest), kind: .bundle, path: Self.bundlePath(id), mode: .createNew) else {
            throw RepositoryError(.conflict, "bundle \(id) already exists")
        }
        return manifest
    }

    /// The stored bundles (of one source when given), oldest first.
    public func bundles(source: String? = nil) throws(RepositoryError) -> [BundleManifest] {
        var result: [BundleManifest] = []
        for id in try store.list("bundles") {
            guard let bytes = try object(kind: .bundle, path: Self.bundlePath(id)) else { continue }
            let manifest = try RepositoryJSON.decode(BundleManifest.self, bytes, what: "bundle \(id)")
            if source == nil || manifest.source == source { result.append(manifest) }
        }
        return result.sorted { $0.createdNanoseconds < $1.createdNanoseconds }
    }

    /// Writes a bundle's content to `path`, every chunk checked.
    public func writeBundle(_ manifest: BundleManifest, to path: String) throws(RepositoryError) {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw RepositoryError(.io, "cannot create \(path)")
        }
        defer { try? handle.close() }
        var written: Int64 = 0
        for id in manifest.chunks {
            let plaintext = try chunk(id)
            do {
                try handle.write(contentsOf: plaintext)
            } catch {
                throw RepositoryError(.io, "cannot write \(path): \(error.localizedDescription)")
            }
            written += Int64(plaintext.count)
        }
        guard written == manifest.size else {
            throw RepositoryError(.damaged, "bundle \(manifest.id) of \(manifest.source) holds \(written) bytes, its manifest says \(manifest.size)")
        }
    }

    /// Removes a bundle's manifest (its chunks go with the next `gc`).
    public func removeBundle(_ id: String) throws(RepositoryError) {
        try store.remove(Self.bundlePath(id))
    }
}
