import Foundation
import Repository
import TestSupport
import Testing

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
        let segment = "000000010000000000000003"
        let contents = SecureRandom.bytes(16 << 20)
        // Random bytes: the sample shows zstd would not help, so the segment is stored as is (header, nonce, tag).
        #expect(try repository.pushWAL(name: segment, contents: contents) == .stored(bytes: (16 << 20) + 33))
        let zeros = [UInt8](repeating: 0, count: 16 << 20)
        guard case .stored(let small) = try repository.pushWAL(name: "000000010000000000000009", contents: zeros) else {
            Issue.record("the compressible segment should be stored")
            return
        }
        #expect(small < 100_000)
        #expect(try repository.pushWAL(name: segment, contents: contents) == .alreadyArchived)
        var changed = contents
        changed[12345] ^= 0xff
        let conflict = #expect(throws: RepositoryError.self) { try repository.pushWAL(name: segment, contents: changed) }
        #expect(conflict?.code == .conflict)
        #expect(try repository.fetchWAL(name: segment) == contents)
        #expect(try repository.fetchWAL(name: "000000010000000000000004") == nil)

        for name in ["00000002.history", "000000010000000000000004.partial", "000000010000000000000002.00000028.backup"] {
            #expect(throws: Never.self) { try repository.pushWAL(name: name, contents: Array(name.utf8)) }
        }
        #expect(try repository.walFiles()["00000002"] == ["00000002.history"])
        #expect(try repository.walFiles()["00000001"]?.count == 4)
        for bad in ["pg_wal", "0000000100000000000000", "../../etc/passwd", "000000010000000000000003.gz"] {
            #expect(throws: RepositoryError.self) { try repository.pushWAL(name: bad, contents: [1]) }
        }
    }
}
