import Foundation
import Repository
import TestSupport
import Testing
import LifeboatCrypto

@Suite("Chunks in pack files, found through the index")
struct PackTests {
    func makeRepository(_ folder: TemporaryDirectory) throws -> BackupRepository {
        try BackupRepository.initialize(at: folder.file("repo"), passphrase: Array("pw".utf8), scryptN: testN)
    }

    func reopen(_ folder: TemporaryDirectory) throws -> BackupRepository {
        try BackupRepository.open(at: folder.file("repo"), credential: .passphrase(Array("pw".utf8)))
    }

    func flip(_ path: String, at offset: Int) throws {
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        var byte = try #require(handle.readData(ofLength: 1).first)
        byte ^= 0x01
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: [byte])
    }

    @Test("chunks are stored once, compressed when that helps, and checked when read")
    func chunks() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let compressible = [UInt8](repeating: 7, count: 64 * 1024)
        let first = try compressible.withUnsafeBytes { try repository.putChunk($0) }
        #expect(first.written > 0 && first.written < 1024)
        let again = try compressible.withUnsafeBytes { try repository.putChunk($0) }
        #expect(again.id == first.id && again.written == 0)
        #expect(try repository.chunk(first.id) == compressible)

        let random = SecureRandom.bytes(64 * 1024)
        let stored = try random.withUnsafeBytes { try repository.putChunk($0) }
        #expect(stored.written == 64 * 1024 + 5 + 12 + 16)  // stored uncompressed: header, nonce, tag
        #expect(try repository.chunk(stored.id) == random)
        // Another process finds them through the index.
        #expect(try reopen(folder).chunk(stored.id) == random)

        // A flipped byte is found and the chunk named.
        let location = try #require(try repository.chunkLocation(stored.id))
        try flip(folder.file("repo/" + location.path), at: location.offset + 100)
        let damaged = #expect(throws: RepositoryError.self) { try repository.chunk(stored.id) }
        #expect(damaged?.code == .damaged)
        #expect(damaged?.message.contains(stored.id) == true)
        #expect(damaged?.message.contains("fails authentication") == true)

        // Chunk ids are keyed: another repository names the same content differently.
        let other = try BackupRepository.initialize(at: folder.file("other"), passphrase: Array("pw".utf8), scryptN: testN)
        #expect(compressible.withUnsafeBytes { other.chunkId($0) } != first.id)
    }

    @Test("a chunk object moved to another chunk's place does not authenticate")
    func swapped() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let a = SecureRandom.bytes(32 * 1024), b = SecureRandom.bytes(32 * 1024)
        let writer = repository.packWriter()
        let idA = try a.withUnsafeBytes { try repository.stageChunk($0, in: writer) }.id
        let idB = try b.withUnsafeBytes { try repository.stageChunk($0, in: writer) }.id
        try repository.publish(writer)
        let la = try #require(try repository.chunkLocation(idA)), lb = try #require(try repository.chunkLocation(idB))
        #expect(la.path == lb.path && la.length == lb.length)
        let path = folder.file("repo/" + la.path)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.replaceSubrange(lb.offset..<(lb.offset + lb.length), with: bytes[la.offset..<(la.offset + la.length)])
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(try repository.chunk(idA) == a)
        let moved = #expect(throws: RepositoryError.self) { try repository.chunk(idB) }
        #expect(moved?.message.contains("fails authentication") == true)
    }

    @Test("a writer fills several packs, each with its trailer; one index lists them all")
    func severalPacks() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let writer = repository.packWriter(targetSize: 256 * 1024)
        var stored: [(String, [UInt8])] = []
        for _ in 0..<20 {
            let data = SecureRandom.bytes(64 * 1024)
            stored.append((try data.withUnsafeBytes { try repository.stageChunk($0, in: writer) }.id, data))
        }
        // Nothing is listed before publishing: a crash here leaves packs no index names.
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder.file("repo/index"))) ?? []).isEmpty)
        #expect(!repository.hasChunk(stored[0].0))
        try repository.publish(writer)

        let packs = (FileManager.default.enumerator(atPath: folder.file("repo/packs"))?.allObjects as? [String] ?? [])
            .filter { ($0 as NSString).lastPathComponent.count == 32 }
        #expect(packs.count == 5)  // 4 chunks of 64 KiB reach 256 KiB
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("repo/index")).count == 1)
        let again = try reopen(folder)
        for (id, data) in stored { #expect(try again.chunk(id) == data) }
        #expect(Set(try stored.map { try #require(try again.chunkLocation($0.0)).path }).count == 5)
    }

    @Test("a missing pack and a truncated pack are named")
    func missingPack() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let data = SecureRandom.bytes(10_000)
        let id = try data.withUnsafeBytes { try repository.putChunk($0) }.id
        let location = try #require(try repository.chunkLocation(id))
        let path = folder.file("repo/" + location.path)
        try FileHandle(forUpdating: URL(fileURLWithPath: path)).truncate(atOffset: UInt64(location.offset + 10))
        #expect((#expect(throws: RepositoryError.self) { try repository.chunk(id) })?.message.contains("truncated") == true)
        try FileManager.default.removeItem(atPath: path)
        #expect((#expect(throws: RepositoryError.self) { try repository.chunk(id) })?.message.contains("does not exist") == true)
        #expect((#expect(throws: RepositoryError.self) { try repository.chunk(String(repeating: "ab", count: 32)) })?
            .message.contains("no index lists it") == true)
    }
}

@Suite("verify --read-data reads everything it keeps")
struct VerifyReadAllTests {
    @Test("every WAL file is read: a damaged segment older than any backup and a damaged .history are named")
    func readsAllWAL() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        let repository = try BackupRepository.initialize(at: location, passphrase: Array("pw".utf8), scryptN: testN)
        let cluster = "7300000000000000003"
        let segment = "000000010000000000000001"
        _ = try repository.pushWAL(name: segment, contents: WALFixture.segment(segment, systemIdentifier: 7300000000000000003,
                                                                              segmentSize: 1 << 20), cluster: cluster)
        _ = try repository.pushWAL(name: "00000002.history", contents: Array("1\t0/1000000\tno recovery target specified\n".utf8),
                                   cluster: cluster)
        let clean = try repository.verify(readData: true)
        #expect(clean.problems.isEmpty, "\(clean.problems)")
        #expect(clean.walSegmentsChecked == 2)

        for path in ["wal/\(cluster)/00000001/\(segment)", "wal/\(cluster)/00000002/00000002.history"] {
            let file = location + "/" + path
            var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: file)))
            bytes[bytes.count / 2] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: file))
        }
        // Without --read-data nothing is read; with it, both are named.
        #expect(try repository.verify(readData: false).problems.filter { $0.object.hasPrefix("WAL") }.isEmpty)
        let report = try repository.verify(readData: true)
        #expect(report.problems.contains { $0.object == "WAL \(cluster)/00000001/\(segment)" }, "\(report.problems)")
        #expect(report.problems.contains { $0.object == "WAL \(cluster)/00000002/00000002.history" }, "\(report.problems)")
    }
}
