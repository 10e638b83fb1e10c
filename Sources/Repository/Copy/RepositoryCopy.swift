import Foundation
import Synchronization

/// What `BackupRepository.copy(to:)` did.
public struct CopyReport: Codable, Sendable {
    /// Backups the destination did not have, copied (oldest first).
    public var backupsCopied: [String] = []
    /// Backups it already had.
    public var backupsPresent = 0
    public var chunksCopied = 0
    /// Chunks the destination already held (or that an earlier copy mapped), not read again.
    public var chunksPresent = 0
    public var walCopied = 0
    public var walPresent = 0
    /// Git bundles copied (those newer than the destination's newest of their source).
    public var bundlesCopied = 0
    /// Bytes written to the destination (stored size).
    public var bytesWritten: Int64 = 0
    /// True when the repositories' keys differ, so objects were decrypted and encrypted again.
    public var reencrypted = false
    public var seconds = 0.0
}

extension BackupRepository {
    /// Whether objects of this repository are valid, byte for byte, in `other`: same master key and same
    /// repository id (a replica made with `initialize(in:replicaOf:)`). Then copies move sealed objects as they are.
    public func sharesObjects(with other: BackupRepository) -> Bool {
        master == other.master && config.id == other.config.id
    }

    /// Copies into `destination` what it lacks: chunks first (published, durable), then each backup's manifest
    /// (so a backup appears there only complete), then the WAL its backups need, and git bundles newer than the
    /// destination's newest of their source (so bundles it pruned are not brought back). Incremental: backups the
    /// destination has are skipped, and chunks it holds are not read again. Between repositories of different
    /// keys every object is decrypted (and so checked) and encrypted again under the destination's key; a replica
    /// gets the sealed objects as they are.
    ///
    /// Holds both repositories' locks shared, like a backup: gc and expire wait.
    public func copy(to destination: BackupRepository, backups selected: [String]? = nil,
                     progress: (@Sendable (String) -> Void)? = nil) throws(RepositoryError) -> CopyReport {
        let started = Date()
        let sourceLock = try RepositoryLock.acquire(self, .shared, timeout: 600)
        let destinationLock = try RepositoryLock.acquire(destination, .shared, timeout: 600)
        defer { withExtendedLifetime((sourceLock, destinationLock)) {} }
        var report = CopyReport()
        let raw = sharesObjects(with: destination)
        report.reencrypted = !raw

        try requireCurrentFormat()
        try destination.requireCurrentFormat()
        let sourceManifests = try manifests()
        let sourceIds = Set(sourceManifests.map(\.id))
        if let selected {
            for id in selected where !sourceIds.contains(id) {
                throw RepositoryError(.notFound, "no backup \(id) in \(location)")
            }
        }
        // A backup is the same on both sides when its cluster, id and start position are: an equal id alone may
        // be another cluster's backup (ids are times).
        let theirManifests = Dictionary(try destination.manifests().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var wanted: [BackupManifest] = []
        var both: [(BackupManifest, BackupManifest)] = []
        for manifest in sourceManifests where selected?.contains(manifest.id) ?? true {
            guard let theirs = theirManifests[manifest.id] else {
                wanted.append(manifest)
                continue
            }
            guard theirs.isSameBackup(as: manifest) else {
                throw RepositoryError(.conflict, "\(destination.location) holds another backup under id \(manifest.id) "
                    + "(cluster \(theirs.systemIdentifier), start \(theirs.startLSN); here: cluster \(manifest.systemIdentifier), "
                    + "start \(manifest.startLSN)); nothing was copied",
                    hint: "copy the other backups with --backup ID, or into another repository")
            }
            both.append((manifest, theirs))
        }
        report.backupsPresent = both.count
        let manifests = wanted

        // Chunk ids of this repository → the destination's. The same for a replica; otherwise learnt from
        // backups both hold, file by file (same path, size and chunk count), so content copied before is not
        // read again.
        let mapping = Mutex<[String: String]>([:])
        if !raw {
            for (mine, theirs) in both {
                let theirFiles = Dictionary(theirs.files.map { ($0.archive + "/" + $0.path, $0) }, uniquingKeysWith: { a, _ in a })
                mapping.withLock { mapping in
                    for left in mine.files {
                        guard let right = theirFiles[left.archive + "/" + left.path], right.size == left.size,
                              right.chunks.count == left.chunks.count else { continue }
                        for (a, b) in zip(left.chunks, right.chunks) { mapping[a] = b }
                    }
                }
            }
        }
        // Git bundles: the destination's newest per source decides what is new.
        let theirBundles = try destination.bundles()
        var newestTheirs: [String: Int64] = [:]
        for bundle in theirBundles { newestTheirs[bundle.source] = max(newestTheirs[bundle.source] ?? .min, bundle.createdNanoseconds) }
        let theirBundleIds = Set(theirBundles.map(\.id))
        let myBundles = selected == nil ? try bundles() : []
        let bundlesToCopy = myBundles.filter {
            !theirBundleIds.contains($0.id) && $0.createdNanoseconds > (newestTheirs[$0.source] ?? .min)
        }
        if !raw {
            let theirsById = Dictionary(theirBundles.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            mapping.withLock { mapping in
                for mine in myBundles {
                    guard let theirs = theirsById[mine.id], theirs.chunks.count == mine.chunks.count else { continue }
                    for (a, b) in zip(mine.chunks, theirs.chunks) { mapping[a] = b }
                }
            }
        }

        var needed: [String] = []
        var seen = Set<String>()
        for manifest in manifests {
            for file in manifest.files {
                for id in file.chunks where seen.insert(id).inserted { needed.append(id) }
            }
        }
        for bundle in bundlesToCopy {
            for id in bundle.chunks where seen.insert(id).inserted { needed.append(id) }
        }
        progress?("copying \(manifests.count) backups: \(needed.count) distinct chunks to check")

        let writer = destination.packWriter()
        let chunks = needed
        let next = Atomic(0)
        let outcome = Mutex((copied: 0, present: 0, bytes: Int64(0), error: RepositoryError?.none))
        let workers = max(store.preferredConcurrency, destination.store.preferredConcurrency)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < chunks.count, outcome.withLock({ $0.error == nil }) else { return }
                let id = chunks[index]
                do throws(RepositoryError) {
                    let written = raw ? try copySealedChunk(id, into: destination, writer: writer)
                                      : try copyChunk(id, into: destination, writer: writer, mapping: mapping)
                    outcome.withLock {
                        if let written {
                            $0.copied += 1
                            $0.bytes += Int64(written)
                        } else {
                            $0.present += 1
                        }
                    }
                } catch {
                    outcome.withLock { if $0.error == nil { $0.error = error } }
                }
            }
        }
        let result = outcome.withLock { $0 }
        if let error = result.error {
            writer.abandon()
            throw error
        }
        try destination.publish(writer)
        report.chunksCopied = result.copied
        report.chunksPresent = result.present
        report.bytesWritten = result.bytes

        // Manifests last, each only after every chunk it names is durable in the destination.
        for manifest in manifests {
            var copy = manifest
            if !raw {
                let map = mapping.withLock { $0 }
                for index in copy.files.indices {
                    copy.files[index].chunks = try copy.files[index].chunks.map { id throws(RepositoryError) in
                        guard let mapped = map[id] else {
                            throw RepositoryError(.damaged, "chunk \(id) of backup \(manifest.id) was not copied")
                        }
                        return mapped
                    }
                }
            }
            try sourceLock.confirm()
            try destination.commit(copy, under: destinationLock)
            report.backupsCopied.append(manifest.id)
            progress?("copied backup \(manifest.id)")
        }

        for bundle in bundlesToCopy {
            var copy = bundle
            if !raw {
                let map = mapping.withLock { $0 }
                copy.chunks = try bundle.chunks.map { id throws(RepositoryError) in
                    guard let mapped = map[id] else {
                        throw RepositoryError(.damaged, "chunk \(id) of git bundle \(bundle.id) was not copied")
                    }
                    return mapped
                }
            }
            copy.newStoredBytes = 0
            _ = try destination.putObject(RepositoryJSON.encode(copy), kind: .bundle, path: Self.bundlePath(bundle.id),
                                          mode: .createNew)
            report.bundlesCopied += 1
        }

        // Each cluster's record, then the WAL the destination's backups of it need: from its oldest backup's first
        // segment on, and every timeline history file. WAL it removed by its own retention is not brought back.
        for record in try clusterRecords() {
            for name in record.names {
                try destination.noteCluster(record.systemIdentifier, name: name.name, postgresVersion: record.postgresVersion,
                                            firstSeen: record.firstSeen)
            }
        }
        let all = try destination.manifests()
        for cluster in try walClusters() {
            // Only history files when the destination holds no backup of this cluster.
            let oldestNeeded = all.filter { $0.systemIdentifier == cluster }.compactMap(\.walSegments.first).min()
            let theirs = try destination.walFiles(cluster: cluster)
            for (timeline, names) in try walFiles(cluster: cluster).sorted(by: { $0.key < $1.key }) {
                let have = Set(theirs[timeline] ?? [])
                for name in names {
                    guard name.hasSuffix(".history") || (oldestNeeded.map { name >= $0 } ?? false) else { continue }
                    if have.contains(name) {
                        report.walPresent += 1
                        continue
                    }
                    let path = walPath(name, timeline: timeline, cluster: cluster)
                    // The time it was archived goes with it: which timeline is still being archived is read from it.
                    let archived = try store.modificationTime(path)
                    if raw {
                        guard let sealed = try store.read(path) else { continue }
                        _ = try codec.open(sealed, kind: .wal, name: path)  // copy nothing damaged
                        if try destination.store.write(path, sealed, mode: .createNew, storedAt: archived) {
                            report.bytesWritten += Int64(sealed.count)
                        }
                    } else {
                        guard let contents = try fetchWAL(name: name, cluster: cluster) else { continue }
                        if case .stored(let bytes) = try destination.pushWAL(name: name, contents: contents, cluster: cluster,
                                                                              storedAt: archived) {
                            report.bytesWritten += Int64(bytes)
                        }
                    }
                    report.walCopied += 1
                }
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Appends a chunk's sealed object to the destination's packs as it is (a replica): no decryption, only the
    /// authentication check. Nil when the destination holds it.
    private func copySealedChunk(_ id: String, into destination: BackupRepository, writer: PackWriter)
        throws(RepositoryError) -> Int? {
        guard let key = ChunkKey(hex: id) else { throw RepositoryError(.damaged, "invalid chunk id \(id)") }
        if try destination.loadedIndex().contains(key) || !writer.claim(key) { return nil }
        guard let location = try chunkLocation(id),
              let object = try store.read(location.path, offset: location.offset, count: location.length),
              object.count == location.length else {
            throw RepositoryError(.damaged, "chunk \(id) is missing from \(self.location); nothing of it was copied",
                                  hint: "run `lifeboat verify` on the source")
        }
        _ = try codec.open(object, kind: .chunk, name: id)
        try writer.append(key, object: object)
        return object.count
    }

    /// Reads, checks and re-encrypts a chunk for a destination of another key. Nil when the destination holds it.
    private func copyChunk(_ id: String, into destination: BackupRepository, writer: PackWriter,
                           mapping: borrowing Mutex<[String: String]>) throws(RepositoryError) -> Int? {
        if let known = mapping.withLock({ $0[id] }), destination.hasChunk(known) { return nil }
        let plaintext = try chunk(id)
        let stored = try plaintext.withUnsafeBytes { bytes in
            Result { () throws(RepositoryError) in try destination.stageChunk(bytes, in: writer) }
        }.get()
        mapping.withLock { $0[id] = stored.id }
        return stored.written > 0 ? stored.written : nil
    }
}
