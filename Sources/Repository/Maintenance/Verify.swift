import Foundation

/// One problem `verify` found: which backup, which file, which object, what is wrong.
public struct VerifyProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    public var backup: String?
    public var file: String?
    public var object: String
    public var problem: String

    public var description: String {
        var text = ""
        if let backup { text += "backup \(backup): " }
        if let file { text += "file \(file): " }
        return text + "\(object): \(problem)"
    }
}

public struct VerifyReport: Codable, Sendable {
    public var backups: [String]
    public var chunksChecked: Int
    public var walSegmentsChecked: Int
    public var readData: Bool
    /// Git bundles checked (all of them when no backup was named).
    public var bundlesChecked: Int = 0
    /// WAL files left in the older layout by an interrupted `repo upgrade` (copied already; the upgrade removes them).
    public var olderLayoutWAL: Int = 0
    /// Key slots read and checked (all of them when no backup was named).
    public var keySlotsChecked: Int = 0
    public var problems: [VerifyProblem]
    /// Risks that are not damage (e.g. a single key slot).
    public var warnings: [String] = []
}

extension BackupRepository {
    /// Checks that every object the backups need is there (and with `readData`, that it decrypts and hashes to
    /// its name), and that the WAL from each backup's start to the newest archived segment of its timeline has no
    /// gap.
    public func verify(backup: String? = nil, readData: Bool) throws(RepositoryError) -> VerifyReport {
        try requireCurrentFormat()
        let ids: [String]
        if let backup {
            guard try backupIds().contains(backup) else {
                throw RepositoryError(.notFound, "no backup \(backup) in \(location)",
                                      hint: "`lifeboat backup list --repo \(location)` shows the backups")
            }
            ids = [backup]
        } else {
            ids = try backupIds()
        }
        var problems: [VerifyProblem] = []
        var checked: [String: String?] = [:]  // chunk id → problem (nil: fine)
        var walChecked = 0
        var packSizes: [String: Int?] = [:]
        // Each cluster's backups against its own archive.
        var archives: [String: [String: [String]]] = [:]
        var timelines: [String: [ArchivedTimeline]] = [:]
        for id in ids {
            let manifest: BackupManifest
            do {
                manifest = try self.manifest(id)
            } catch {
                problems.append(VerifyProblem(backup: id, file: nil, object: "manifest", problem: error.message))
                continue
            }
            for file in manifest.files {
                for chunkId in file.chunks {
                    let problem: String?
                    if let known = checked[chunkId] {
                        problem = known
                    } else {
                        problem = checkChunk(chunkId, readData: readData, packSizes: &packSizes)
                        checked[chunkId] = problem
                    }
                    if let problem {
                        problems.append(VerifyProblem(backup: id, file: file.path, object: "chunk \(chunkId)", problem: problem))
                    }
                }
            }
            let cluster = manifest.systemIdentifier
            if archives[cluster] == nil {
                archives[cluster] = [:]
                timelines[cluster] = []
                do {
                    if SystemIdentifier.isValid(cluster) {
                        archives[cluster] = try walFiles(cluster: cluster)
                        timelines[cluster] = try archivedTimelines(cluster: cluster)
                    }
                } catch {
                    problems.append(VerifyProblem(backup: id, file: nil, object: "WAL of cluster \(cluster)", problem: error.message))
                }
            }
            problems += verifyWAL(manifest, archive: archives[cluster]!, timelines: timelines[cluster]!, readData: readData,
                                  checked: &walChecked)
        }
        // Git bundles (git.mirror keeps them here): their chunks too, when the whole repository is verified.
        var bundlesChecked = 0
        if backup == nil {
            let bundles: [BundleManifest]
            do {
                bundles = try self.bundles()
            } catch {
                bundles = []
                problems.append(VerifyProblem(backup: nil, file: nil, object: "bundles", problem: error.message))
            }
            for bundle in bundles {
                bundlesChecked += 1
                for chunkId in bundle.chunks {
                    let problem: String?
                    if let known = checked[chunkId] {
                        problem = known
                    } else {
                        problem = checkChunk(chunkId, readData: readData, packSizes: &packSizes)
                        checked[chunkId] = problem
                    }
                    if let problem {
                        problems.append(VerifyProblem(backup: nil, file: "git bundle \(bundle.id) of \(bundle.source)",
                                                      object: "chunk \(chunkId)", problem: problem))
                    }
                }
            }
        }
        var keySlots = 0
        var warnings: [String] = []
        if backup == nil {
            // Every WAL file kept (older than the oldest backup too; `.history`, `.backup` and `.partial` files).
            if readData { problems += readAllWAL(checked: &walChecked) }
            // A timeline after the first with WAL but no history cannot be followed by a restore.
            for cluster in try walClusters() {
                for (hex, names) in try walFiles(cluster: cluster) where hex != "00000001" && !names.contains(hex + ".history")
                    && names.contains(where: WALFileName.isSegment) {
                    problems.append(VerifyProblem(backup: nil, file: nil, object: "WAL \(cluster)/\(hex)/\(hex).history",
                                                  problem: "missing: timeline \(hex) has WAL but no history file; "
                                                    + "restores cannot follow it"))
                }
            }
            // Every key slot, authenticated under the master key: a damaged one may no longer open.
            for key in try keys() {
                keySlots += 1
                if let damage = key.damage {
                    problems.append(VerifyProblem(backup: nil, file: nil, object: "key slot keys/\(key.id)", problem: "damaged: \(damage)"))
                }
            }
            if let warning = try singleKeyWarning() { warnings.append(warning) }
        }
        var report = VerifyReport(backups: ids, chunksChecked: checked.count, walSegmentsChecked: walChecked,
                                  readData: readData, problems: problems)
        report.bundlesChecked = bundlesChecked
        report.keySlotsChecked = keySlots
        report.warnings = warnings
        let leftovers = try olderLayoutWAL()
        report.olderLayoutWAL = leftovers.count
        report.problems += try olderLayoutProblems(leftovers)
        return report
    }

    private func checkChunk(_ id: String, readData: Bool, packSizes: inout [String: Int?]) -> String? {
        guard readData else {
            do {
                guard let location = try chunkLocation(id) else { return "missing: no index lists it" }
                if packSizes[location.path] == nil { packSizes[location.path] = .some(try store.size(location.path)) }
                guard let size = packSizes[location.path]!  else { return "missing: its pack \(location.path) does not exist" }
                return size >= location.offset + location.length ? nil : "missing: its pack \(location.path) is truncated"
            } catch {
                return error.message
            }
        }
        do {
            _ = try chunk(id)
            return nil
        } catch {
            return error.message
        }
    }

    /// Reads, decrypts and authenticates every archived WAL file of every cluster; segments must carry their
    /// cluster's system identifier and `.history` files must parse.
    private func readAllWAL(checked: inout Int) -> [VerifyProblem] {
        var problems: [VerifyProblem] = []
        let clusters: [String]
        do {
            clusters = try walClusters()
        } catch {
            return [VerifyProblem(backup: nil, file: nil, object: "WAL archive", problem: error.message)]
        }
        for cluster in clusters {
            let files: [String: [String]]
            do {
                files = try walFiles(cluster: cluster)
            } catch {
                problems.append(VerifyProblem(backup: nil, file: nil, object: "WAL of cluster \(cluster)", problem: error.message))
                continue
            }
            for (timeline, names) in files.sorted(by: { $0.key < $1.key }) {
                for name in names {
                    checked += 1
                    let object = "WAL \(cluster)/\(timeline)/\(name)"
                    do {
                        guard let contents = try fetchWAL(name: name, cluster: cluster) else {
                            problems.append(VerifyProblem(backup: nil, file: nil, object: object, problem: "vanished while it was read"))
                            continue
                        }
                        if WALFileName.hasPageHeader(name) {
                            try checkSegment(name, contents, cluster: cluster)
                        } else if name.hasSuffix(".history"),
                                  TimelineHistory(timeline: UInt32(timeline, radix: 16) ?? 0,
                                                  text: String(decoding: contents, as: UTF8.self)) == nil {
                            problems.append(VerifyProblem(backup: nil, file: nil, object: object,
                                                          problem: "damaged: it cannot be read as a timeline history"))
                        }
                    } catch {
                        problems.append(VerifyProblem(backup: nil, file: nil, object: object, problem: error.message))
                    }
                }
            }
        }
        return problems
    }

    private func walTimeline(of name: String) -> String { WALFileName.timeline(of: name) ?? "" }

    private func verifyWAL(_ manifest: BackupManifest, archive: [String: [String]], timelines: [ArchivedTimeline],
                           readData: Bool, checked: inout Int) -> [VerifyProblem] {
        guard !manifest.walSegments.isEmpty, manifest.walSegmentSize > 0 else { return [] }
        let size = UInt64(manifest.walSegmentSize)
        guard let first = WALRange.segmentNumber(manifest.walSegments[0], segmentSize: size) else { return [] }
        var problems: [VerifyProblem] = []
        if !manifest.walIncluded {
            for name in manifest.walSegments {
                checked += 1
                guard archive[walTimeline(of: name)]?.contains(name) == true else {
                    problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL \(name)",
                                                  problem: "missing: the backup cannot be made consistent without it"))
                    continue
                }
                if readData {
                    do {
                        _ = try fetchWAL(name: name, cluster: manifest.systemIdentifier)
                    } catch {
                        problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL \(name)", problem: error.message))
                    }
                }
            }
        }
        // The chain from the backup's first segment to the newest archived one must be complete for recovery to
        // reach the newest archived point, along the timeline a restore follows (`recoveryTimeline`).
        var chains = walChain(manifest, archive: archive, timelines: timelines, segmentSize: size, first: first)
        // And the backup's own timeline to its newest segment, when a restore follows another one: should the
        // timeline archived last change, that chain must be whole too.
        let own = WALRange.hex8(UInt64(manifest.timeline))
        if let newestOwn = (archive[own] ?? []).filter(WALFileName.isSegment)
            .compactMap({ WALRange.segmentNumber($0, segmentSize: size) }).max(), newestOwn > first,
           !chains.contains(where: { $0.0 == own && $0.1.contains(first) && $0.1.contains(newestOwn) }) {
            chains.append((own, first...newestOwn))
        }
        var seen = Set<String>()
        for (chainTimeline, range) in chains {
            let present = Set((archive[chainTimeline] ?? []).filter { $0.utf8.count == 24 }
                .compactMap { WALRange.segmentNumber($0, segmentSize: size) })
            var missing: [UInt64] = []
            for number in range where seen.insert("\(chainTimeline)/\(number)").inserted {
                checked += 1
                if !present.contains(number) { missing.append(number) }
            }
            for number in missing.prefix(20) {
                let name = WALRange.segmentName(timeline: chainTimeline, segment: number, segmentSize: size)
                problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL \(name)",
                                              problem: "missing: a gap in the archive; recovery from this backup stops before it"))
            }
            if missing.count > 20 {
                problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL",
                                              problem: "\(missing.count - 20) more segments missing on timeline \(chainTimeline)"))
            }
        }
        return problems
    }

    /// The segments recovery from a backup reads, per timeline: along the timeline a restore of it follows
    /// (`follow`, else `recoveryTimeline`), from its first segment up to that timeline's newest segment (`newest`,
    /// else the newest in `archive`).
    func walChain(_ manifest: BackupManifest, archive: [String: [String]], timelines: [ArchivedTimeline],
                  segmentSize: UInt64, first: UInt64, follow: UInt32? = nil,
                  newest newestOf: ((String) -> UInt64?)? = nil) -> [(String, ClosedRange<UInt64>)] {
        let backupTimeline = UInt32(manifest.timeline)
        let target = follow.map { number in timelines.first { $0.timeline == number } ?? ArchivedTimeline(timeline: number) }
            ?? Self.recoveryTimeline(backupTimeline: backupTimeline, stopLSN: manifest.stopPosition ?? 0, timelines: timelines)
        func newest(_ hex: String) -> UInt64? {
            if let newestOf { return newestOf(hex) }
            return (archive[hex] ?? []).filter(WALFileName.isSegment)
                .compactMap { WALRange.segmentNumber($0, segmentSize: segmentSize) }.max()
        }
        guard let target, target.timeline != backupTimeline, let history = target.history else {
            let hex = WALRange.hex8(UInt64(backupTimeline))
            guard let last = newest(hex), last > first else { return [] }
            return [(hex, first...last)]
        }
        var chain: [(String, ClosedRange<UInt64>)] = []
        var current = first
        var started = false
        for branch in history.ancestors {
            if branch.parent == backupTimeline { started = true }
            guard started else { continue }
            let switchSegment = branch.switchpoint / segmentSize
            if switchSegment > current { chain.append((WALRange.hex8(UInt64(branch.parent)), current...(switchSegment - 1))) }
            current = max(current, switchSegment)
        }
        if let last = newest(target.hex), last >= current { chain.append((target.hex, current...last)) }
        return chain
    }

    /// The timeline a restore of a backup follows when none is named: the one still being archived
    /// (`currentTimeline`) when the backup can reach it, else the most recently archived timeline it can reach,
    /// else its own.
    public static func recoveryTimeline(backupTimeline: UInt32, stopLSN: UInt64, timelines: [ArchivedTimeline])
        -> ArchivedTimeline? {
        let reachable = timelines.filter { $0.accepts(timeline: backupTimeline, stopLSN: stopLSN) }
        if let current = currentTimeline(timelines), reachable.contains(current) { return current }
        return currentTimeline(reachable) ?? timelines.first { $0.timeline == backupTimeline }
    }
}

extension BackupRepository {
    /// Files an interrupted upgrade left in the format 2 layout must have their copy in their cluster's folder
    /// (format 3 reads only that); one without is a problem until `repo upgrade` runs again.
    func olderLayoutProblems(_ leftovers: [StoredObject]) throws(RepositoryError) -> [VerifyProblem] {
        var problems: [VerifyProblem] = []
        let clusters = try walClusters()
        for object in leftovers {
            let timeline = String(object.path.split(separator: "/")[1])
            var owners = clusters
            let contents: [UInt8]
            do {
                guard let sealed = try store.read(object.path) else { continue }
                contents = try codec.open(sealed, kind: .wal, name: object.path)
            } catch {
                problems.append(VerifyProblem(backup: nil, file: nil, object: "WAL \(object.path)", problem: error.message))
                continue
            }
            if WALFileName.hasPageHeader(object.name) {
                owners = WALSegmentHeader(Array(contents.prefix(WALSegmentHeader.size))).map { [String($0.systemIdentifier)] } ?? []
            }
            // Its copy: the same content under the same name in a cluster's folder (its header's, for a segment).
            var copied = false
            for owner in owners {
                let copy = Self.walPath(object.name, timeline: timeline, cluster: owner)
                guard let sealed = try store.read(copy) else { continue }
                do {
                    if try codec.open(sealed, kind: .wal, name: copy) == contents { copied = true }
                } catch {
                    problems.append(VerifyProblem(backup: nil, file: nil, object: "WAL \(copy)", problem: error.message))
                }
            }
            if !copied {
                problems.append(VerifyProblem(backup: nil, file: nil, object: "WAL \(object.path)",
                                              problem: "left in the format 2 layout with no copy in its cluster's folder; "
                                                + "run `lifeboat repo upgrade`"))
            }
        }
        return problems
    }
}
