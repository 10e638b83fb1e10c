import Foundation
import Repository
import TestSupport
import Testing
import LifeboatCrypto

@Suite("Encrypted objects, chunks and the WAL archive")
struct ObjectTests {
    func makeRepository(_ folder: TemporaryDirectory) throws -> BackupRepository {
        try BackupRepository.initialize(at: folder.file("repo"), passphrase: Array("pw".utf8), scryptN: testN)
    }

    @Test("AES-256-GCM rejects a changed byte, a changed tag and other associated data")
    func aesGCM() {
        let key = SecureRandom.bytes(32), nonce = SecureRandom.bytes(12)
        let plaintext = Array("attack at dawn".utf8)
        let sealed = plaintext.withUnsafeBytes { AESGCM.seal(key: key, nonce: nonce, plaintext: $0, associatedData: [1, 2]) }
        #expect(sealed.withUnsafeBytes { AESGCM.open(key: key, nonce: nonce, sealed: $0, associatedData: [1, 2]) } == plaintext)
        var flipped = sealed
        flipped[0] ^= 1
        #expect(flipped.withUnsafeBytes { AESGCM.open(key: key, nonce: nonce, sealed: $0, associatedData: [1, 2]) } == nil)
        var badTag = sealed
        badTag[badTag.count - 1] ^= 0x80
        #expect(badTag.withUnsafeBytes { AESGCM.open(key: key, nonce: nonce, sealed: $0, associatedData: [1, 2]) } == nil)
        #expect(sealed.withUnsafeBytes { AESGCM.open(key: key, nonce: nonce, sealed: $0, associatedData: [1, 3]) } == nil)
    }

    @Test("HMAC-SHA256 and scrypt match their RFC test vectors")
    func vectors() {
        // RFC 4231, test case 2.
        let mac = KeyedHash.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // RFC 7914, the second vector ("password", "NaCl", N=1024, r=8, p=16), first 32 bytes.
        let derived = KeyedHash.scrypt(passphrase: Array("password".utf8), salt: Array("NaCl".utf8), n: 1024, r: 8, p: 16)
        #expect(derived.map { Hex.encode($0) } == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162")
    }

    @Test("WAL pushes are idempotent and never overwrite different content")
    func walPush() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let cluster = "7714598781226041667"
        let segment = "000000010000000000000003"
        let contents = WALFixture.segment(segment, systemIdentifier: 7714598781226041667, random: true)
        // Random bytes: the sample shows zstd would not help, so the segment is stored as is (header, nonce, tag).
        #expect(try repository.pushWAL(name: segment, contents: contents, cluster: cluster) == .stored(bytes: (16 << 20) + 33))
        let zeros = WALFixture.segment("000000010000000000000009", systemIdentifier: 7714598781226041667)
        guard case .stored(let small) = try repository.pushWAL(name: "000000010000000000000009", contents: zeros, cluster: cluster) else {
            Issue.record("the compressible segment should be stored")
            return
        }
        #expect(small < 100_000)
        #expect(try repository.pushWAL(name: segment, contents: contents, cluster: cluster) == .alreadyArchived)
        var changed = contents
        changed[12345] ^= 0xff
        let conflict = #expect(throws: RepositoryError.self) { try repository.pushWAL(name: segment, contents: changed, cluster: cluster) }
        #expect(conflict?.code == .conflict)
        #expect(try repository.fetchWAL(name: segment, cluster: cluster) == contents)
        #expect(try repository.fetchWAL(name: "000000010000000000000004", cluster: cluster) == nil)

        let partial = WALFixture.segment("000000010000000000000004", systemIdentifier: 7714598781226041667)
        #expect(throws: Never.self) {
            try repository.pushWAL(name: "00000002.history", contents: Array("1\t0/3000000\tpromoted\n".utf8), cluster: cluster)
            try repository.pushWAL(name: "000000010000000000000004.partial", contents: partial, cluster: cluster)
            try repository.pushWAL(name: "000000010000000000000002.00000028.backup", contents: Array("START WAL".utf8), cluster: cluster)
        }
        #expect(try repository.walFiles(cluster: cluster)["00000002"] == ["00000002.history"])
        #expect(try repository.walFiles(cluster: cluster)["00000001"]?.count == 4)
        #expect(FileManager.default.fileExists(atPath: folder.file("repo/wal/\(cluster)/00000001/\(segment)")))
        for bad in ["pg_wal", "0000000100000000000000", "../../etc/passwd", "000000010000000000000003.gz"] {
            #expect(throws: RepositoryError.self) { try repository.pushWAL(name: bad, contents: [1], cluster: cluster) }
        }
        // Cluster names are canonical system identifiers: nothing else reaches a path, a timeline folder of format 2
        // ("00000001") included.
        for badCluster in ["", "../wal", "12a", "99999999999999999999999", "00000001", "0\(cluster)", "+\(cluster)"] {
            #expect(throws: RepositoryError.self) {
                try repository.pushWAL(name: "000000010000000000000002.00000028.backup", contents: Array("x".utf8), cluster: badCluster)
            }
            #expect(throws: RepositoryError.self) { try repository.fetchWAL(name: segment, cluster: badCluster) }
            #expect(throws: RepositoryError.self) { try repository.hasWAL(name: segment, cluster: badCluster) }
        }
        #expect(try repository.walClusters() == [cluster])
    }

    @Test("one archive, two clusters: the same WAL names apart; a segment is refused for a cluster its header does not name")
    func walPerCluster() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let a = "7000000000000000001", b = "7000000000000000002"
        let name = "000000010000000000000001"
        let segmentA = WALFixture.segment(name, systemIdentifier: 7000000000000000001, random: true)
        let segmentB = WALFixture.segment(name, systemIdentifier: 7000000000000000002, random: true)
        #expect(try repository.pushWAL(name: name, contents: segmentA, cluster: a) != .alreadyArchived)
        #expect(try repository.pushWAL(name: name, contents: segmentB, cluster: b) != .alreadyArchived)
        #expect(try repository.fetchWAL(name: name, cluster: a) == segmentA)
        #expect(try repository.fetchWAL(name: name, cluster: b) == segmentB)
        #expect(try repository.walClusters() == [a, b])

        // B's next segment pushed as A's: refused, nothing written.
        let next = "000000010000000000000002"
        let foreign = #expect(throws: RepositoryError.self) {
            try repository.pushWAL(name: next, contents: WALFixture.segment(next, systemIdentifier: 7000000000000000002), cluster: a)
        }
        #expect(foreign?.code == .conflict)
        #expect(foreign?.message.contains("belongs to cluster \(b)") == true)
        #expect(try repository.hasWAL(name: next, cluster: a) == false)
        // A segment whose header is at another position than its name, or no header at all.
        #expect(throws: RepositoryError.self) {
            try repository.pushWAL(name: next, contents: WALFixture.segment(next, systemIdentifier: 7000000000000000001,
                                                                          pageAddress: 5 << 24), cluster: a)
        }
        #expect(throws: RepositoryError.self) {
            try repository.pushWAL(name: next, contents: [UInt8](repeating: 0, count: 16 << 20), cluster: a)
        }
        #expect(try repository.hasWAL(name: next, cluster: a) == false)

        // A history branching off a timeline A has: fine. One branching off a timeline it does not have: refused.
        #expect(throws: Never.self) {
            try repository.pushWAL(name: "00000002.history", contents: Array("1\t0/3000000\tno recovery target specified\n".utf8), cluster: a)
        }
        let stray = #expect(throws: RepositoryError.self) {
            try repository.pushWAL(name: "00000005.history",
                                   contents: Array("1\t0/3000000\tx\n4\t0/5000000\ty\n".utf8), cluster: a)
        }
        #expect(stray?.message.contains("branches off timeline 4") == true)
        #expect(stray?.message.contains("its timelines: 1, 2") == true)
        #expect(throws: RepositoryError.self) {
            try repository.pushWAL(name: "00000003.history", contents: Array("not a history".utf8), cluster: a)
        }
        // Off timeline 2, but with another past for timeline 2 than its archived history: refused too.
        let rewritten = #expect(throws: RepositoryError.self) {
            try repository.pushWAL(name: "00000003.history", contents: Array("1\t0/4000000\tx\n2\t0/6000000\ty\n".utf8), cluster: a)
        }
        #expect(rewritten?.message.contains("another ancestry for timeline 2") == true)
        #expect(throws: Never.self) {
            try repository.pushWAL(name: "00000003.history", contents: Array("1\t0/3000000\tx\n2\t0/6000000\ty\n".utf8), cluster: a)
        }
        #expect(try repository.walFiles(cluster: a).keys.sorted() == ["00000001", "00000002", "00000003"])

        // Both clusters are recorded, by system identifier.
        #expect(try repository.clusterRecords().map(\.systemIdentifier).sorted() == [a, b])
    }

    @Test("backup ids are unique within a second and sort by time")
    func backupIds() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try makeRepository(folder)
        let ids = try (0..<50).map { _ in try repository.newBackupId().id }
        #expect(Set(ids).count == 50)
        for id in ids {
            #expect(id.count == "20261202T062105Z-3fa1".count)
            #expect(id.dropFirst(16).first == "-")
            #expect(BackupManifest.isValidId(id))
        }
        #expect(!BackupManifest.isValidId("../x") && BackupManifest.isValidId("20261126T023000Z"))
    }

    @Test("timeline histories: parsed as PostgreSQL writes them; damage is not taken for no ancestors")
    func timelineHistory() {
        let history = TimelineHistory(timeline: 3, text: "1\t0/3000000\tno recovery target specified\n\n2\t0/5000A28\tat restore point\n")
        #expect(history?.ancestors.map(\.parent) == [1, 2])
        #expect(history?.ancestors.last?.switchpoint == 0x5000A28)
        #expect(history?.contains(timeline: 1, at: 0x2FFFFFF) == true)
        #expect(history?.contains(timeline: 1, at: 0x3000001) == false)
        #expect(history?.contains(timeline: 3, at: 0x9000000) == true)
        #expect(TimelineHistory(timeline: 2, text: "") == nil)
        #expect(TimelineHistory(timeline: 2, text: "garbage") == nil)
        #expect(TimelineHistory(timeline: 2, text: "3\t0/3000000\tchild\n") == nil)
        #expect(WALRange.format(0x1_0000_0A28) == "1/A28")
    }
}
