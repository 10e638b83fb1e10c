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
    public var problems: [VerifyProblem]

    enum CodingKeys: String, CodingKey {
        case backups, problems
        case chunksChecked = "chunks_checked", walSegmentsChecked = "wal_segments_checked", readData = "read_data"
    }
}

extension BackupRepository {
    /// Checks that every object the backups need is there (and with `readData`, that it decrypts and hashes to
    /// its name), and that the WAL from each backup's start to the newest archived segment of its timeline has no
    /// gap.
    public func verify(backup: String? = nil, readData: Bool) throws(RepositoryError) -> VerifyReport {
        let ids = backup.map { [$0] } ?? backupIds()
        var problems: [VerifyProblem] = []
        var checked: [String: String?] = [:]  // chunk id → problem (nil: fine)
        var walChecked = 0
        let archive = walFiles()
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
                        problem = checkChunk(chunkId, readData: readData)
                        checked[chunkId] = problem
                    }
                    if let problem {
                        problems.append(VerifyProblem(backup: id, file: file.path, object: "chunk \(chunkId)", problem: problem))
                    }
                }
            }
            problems += verifyWAL(manifest, archive: archive, readData: readData, checked: &walChecked)
        }
        return VerifyReport(backups: ids, chunksChecked: checked.count, walSegmentsChecked: walChecked,
                            readData: readData, problems: problems)
    }

    private func checkChunk(_ id: String, readData: Bool) -> String? {
        guard readData else { return hasChunk(id) ? nil : "missing" }
        do {
            _ = try chunk(id)
            return nil
        } catch {
            return error.message
        }
    }

    private func verifyWAL(_ manifest: BackupManifest, archive: [String: [String]], readData: Bool,
                           checked: inout Int) -> [VerifyProblem] {
        guard !manifest.walSegments.isEmpty, manifest.walSegmentSize > 0 else { return [] }
        let size = UInt64(manifest.walSegmentSize)
        let timeline = String(manifest.walSegments[0].prefix(8))
        let names = (archive[timeline] ?? []).filter { $0.utf8.count == 24 }
        let numbers = Set(names.compactMap { Self.segmentNumber($0, segmentSize: size) })
        guard let first = Self.segmentNumber(manifest.walSegments[0], segmentSize: size) else { return [] }
        var problems: [VerifyProblem] = []
        if !manifest.walIncluded {
            for name in manifest.walSegments {
                checked += 1
                guard hasWAL(name: name) else {
                    problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL \(name)",
                                                  problem: "missing: the backup cannot be made consistent without it"))
                    continue
                }
                if readData {
                    do {
                        _ = try fetchWAL(name: name)
                    } catch {
                        problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL \(name)", problem: error.message))
                    }
                }
            }
        }
        // The chain from the backup's first segment to the newest archived one must be complete for recovery to
        // reach the newest archived point.
        let last = numbers.filter { $0 >= first }.max() ?? first
        if last > first {
            var missing: [UInt64] = []
            for number in first...last where !numbers.contains(number) { missing.append(number) }
            for number in missing.prefix(20) {
                let name = Self.segmentName(timeline: timeline, segment: number, segmentSize: size)
                problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL \(name)",
                                              problem: "missing: a gap in the archive; recovery from this backup stops before it"))
            }
            if missing.count > 20 {
                problems.append(VerifyProblem(backup: manifest.id, file: nil, object: "WAL",
                                              problem: "\(missing.count - 20) more segments missing"))
            }
            checked += Int(last - first + 1)
        }
        return problems
    }

    static func segmentNumber(_ name: String, segmentSize: UInt64) -> UInt64? {
        guard name.utf8.count == 24, let high = UInt64(name.dropFirst(8).prefix(8), radix: 16),
              let low = UInt64(name.suffix(8), radix: 16) else { return nil }
        return high * (0x1_0000_0000 / segmentSize) + low
    }

    static func segmentName(timeline: String, segment: UInt64, segmentSize: UInt64) -> String {
        let perId = 0x1_0000_0000 / segmentSize
        func hex8(_ value: UInt64) -> String {
            let digits = String(value, radix: 16, uppercase: true)
            return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
        }
        return timeline + hex8(segment / perId) + hex8(segment % perId)
    }
}
