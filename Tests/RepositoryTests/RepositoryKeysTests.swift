import Foundation
import Repository
import TestSupport
import Testing

/// Fast scrypt for tests; real repositories use the default (N = 2^15).
let testN: UInt64 = 1 << 10

func listing(_ path: String) -> [String] {
    (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted()
}

@Suite("Repository creation and keys")
struct RepositoryKeysTests {
    @Test("init writes a config and a wrapped key; the passphrase opens it again")
    func initAndOpen() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        let created = try BackupRepository.initialize(at: location, passphrase: Array("correct horse".utf8), scryptN: testN)
        #expect(created.config.format == BackupRepository.formatVersion && BackupRepository.formatVersion == 3)
        #expect(created.config.id.count == 32)
        #expect(created.config.compressionLevel == 3)
        #expect(FileManager.default.fileExists(atPath: location + "/config"))
        #expect(try created.keys().count == 1)
        let keyText = try String(contentsOfFile: location + "/keys/" + created.keys()[0].id, encoding: .utf8)
        #expect(keyText.contains("\"kdf\" : \"scrypt\"") && keyText.contains("\"n\" : 1024"))

        let opened = try BackupRepository.open(at: location, credential: .passphrase(Array("correct horse".utf8)))
        #expect(opened.id == created.id)
        #expect(opened.openedKeyId == created.openedKeyId)

        #expect(throws: RepositoryError.self) {
            try BackupRepository.initialize(at: location, passphrase: Array("x".utf8), scryptN: testN)
        }
        let busy = try folder.write("busy/file", "something")
        _ = busy
        let refused = #expect(throws: RepositoryError.self) {
            try BackupRepository.initialize(at: folder.file("busy"), passphrase: Array("x".utf8), scryptN: testN)
        }
        #expect(refused?.message.contains("is not empty") == true)
    }

    @Test("a wrong passphrase is refused and writes nothing")
    func wrongPassphrase() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        _ = try BackupRepository.initialize(at: location, passphrase: Array("right".utf8), scryptN: testN)
        let before = listing(location)
        let error = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: location, credential: .passphrase(Array("wrong".utf8)))
        }
        #expect(error?.code == .wrongKey)
        #expect(error?.message.hasPrefix("wrong passphrase") == true)
        #expect(listing(location) == before)

        let missing = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: folder.file("nothing"), credential: .passphrase(Array("right".utf8)))
        }
        #expect(missing?.code == .notInitialised)
    }

    @Test("several passphrases open one repository; the last key cannot be removed")
    func severalKeys() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        let repository = try BackupRepository.initialize(at: location, passphrase: Array("first".utf8), scryptN: testN)
        let second = try repository.addKey(passphrase: Array("second".utf8), label: "ops team", scryptN: testN)
        #expect(try repository.keys().count == 2)
        let viaSecond = try BackupRepository.open(at: location, credential: .passphrase(Array("second".utf8)))
        #expect(viaSecond.openedKeyId == second)
        #expect(try viaSecond.keys().first { $0.id == second }?.label == "ops team")

        try viaSecond.removeKey(repository.openedKeyId!)
        #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: location, credential: .passphrase(Array("first".utf8)))
        }
        let last = #expect(throws: RepositoryError.self) { try viaSecond.removeKey(second) }
        #expect(last?.code == .refused)
        #expect(try viaSecond.keys().count == 1)
    }

    @Test("an exported key file opens the repository without a passphrase, and only that repository")
    func keyFile() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let repository = try BackupRepository.initialize(at: folder.file("a"), passphrase: Array("pw".utf8), scryptN: testN)
        let other = try BackupRepository.initialize(at: folder.file("b"), passphrase: Array("pw".utf8), scryptN: testN)
        let keyPath = folder.file("a.key")
        try repository.exportKey(to: keyPath)
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let opened = try BackupRepository.open(at: folder.file("a"), credential: .keyFile(keyPath))
        #expect(opened.id == repository.id)
        let mismatch = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: folder.file("b"), credential: .keyFile(keyPath))
        }
        #expect(mismatch?.code == .wrongKey)
        #expect(throws: RepositoryError.self) { try repository.exportKey(to: keyPath) }
        _ = other
    }

    /// Rewrites the JSON of key slot `id` with `change`.
    func editSlot(_ location: String, _ id: String, _ change: (inout [String: Any]) -> Void) throws {
        let path = location + "/keys/" + id
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
    }

    @Test("a crafted slot's scrypt parameters are capped: it is reported damaged, not derived")
    func scryptBounds() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        let repository = try BackupRepository.initialize(at: location, passphrase: Array("pw".utf8), scryptN: testN)
        let id = try #require(repository.openedKeyId)
        for (n, r, p) in [(UInt64(1) << 40, 8, 1), (1 << 20, 1 << 20, 1), (1000, 8, 1), (1 << 22, 32, 16)] {
            try editSlot(location, id) { $0["n"] = n; $0["r"] = r; $0["p"] = p }
            let error = #expect(throws: RepositoryError.self) {
                try BackupRepository.open(at: location, credential: .passphrase(Array("pw".utf8)))
            }
            #expect(error?.code == .damaged, "N=\(n) r=\(r) p=\(p)")
            #expect(error?.message.contains("scrypt") == true, "\(error?.message ?? "")")
        }
        #expect(throws: RepositoryError.self) {
            try BackupRepository.initialize(at: folder.file("b"), passphrase: Array("pw".utf8), scryptN: 1 << 23)
        }
        #expect(BackupRepository.defaultScryptN >= 1 << 17)
    }

    @Test("slots from before key checks gain one when a passphrase opens them; until then key files are proven against data")
    func olderSlots() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        let repository = try BackupRepository.initialize(at: location, passphrase: Array("pw".utf8), scryptN: testN)
        let id = try #require(repository.openedKeyId)
        let keyPath = folder.file("repo.key")
        try repository.exportKey(to: keyPath)
        try editSlot(location, id) { $0["check"] = nil; $0["checksum"] = nil; $0["seal"] = nil }

        // No check value and no data: a key file cannot be proven, so it is refused.
        let unproven = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: location, credential: .keyFile(keyPath))
        }
        #expect(unproven?.code == .wrongKey && unproven?.message.contains("cannot prove") == true)
        // With a cluster record, the key is proven by decrypting it; another key is refused.
        let name = "000000010000000000000001"
        _ = try repository.pushWAL(name: name, contents: WALFixture.segment(name, systemIdentifier: 7300000000000000002,
                                                                           segmentSize: 1 << 20), cluster: "7300000000000000002")
        _ = try BackupRepository.open(at: location, credential: .keyFile(keyPath))
        let other = try BackupRepository.initialize(at: folder.file("other"), passphrase: Array("pw".utf8), scryptN: testN)
        _ = other
        var text = try String(contentsOfFile: keyPath, encoding: .utf8)
        let master = try #require(text.range(of: "\"master\" : \""))
        let digit = text.index(master.upperBound, offsetBy: 3)
        text.replaceSubrange(digit...digit, with: text[digit] == "0" ? "1" : "0")
        let stripped = text.replacingOccurrences(of: #""check" : "[0-9a-f]+","#, with: "", options: .regularExpression)
        try stripped.write(toFile: keyPath + ".bad", atomically: true, encoding: .utf8)
        let wrong = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: location, credential: .keyFile(keyPath + ".bad"))
        }
        #expect(wrong?.code == .wrongKey)

        // The passphrase opens the slot and records its check value, seal and checksum.
        _ = try BackupRepository.open(at: location, credential: .passphrase(Array("pw".utf8)))
        let slot = try String(contentsOfFile: location + "/keys/" + id, encoding: .utf8)
        #expect(slot.contains("\"check\"") && slot.contains("\"seal\"") && slot.contains("\"checksum\""))
        let wrongAgain = #expect(throws: RepositoryError.self) {
            try BackupRepository.open(at: location, credential: .keyFile(keyPath + ".bad"))
        }
        #expect(wrongAgain?.message.contains("matches none of the repository's key checks") == true)
        #expect(try BackupRepository.open(at: location, credential: .passphrase(Array("pw".utf8))).keys().allSatisfy { $0.damage == nil })
    }

    @Test("a slot wrapping another key (added with a wrong key before checks existed) is found by its seal")
    func foreignSlot() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let location = folder.file("repo")
        let repository = try BackupRepository.initialize(at: location, passphrase: Array("pw".utf8), scryptN: testN)
        let second = try repository.addKey(passphrase: Array("two".utf8), scryptN: testN)
        // The second slot's seal changed: as if written under another master key.
        try editSlot(location, second) { $0["seal"] = String(repeating: "0", count: 64) }
        let keys = try repository.keys()
        #expect(keys.first { $0.id == second }?.damage?.contains("seal") == true)
        #expect(keys.first { $0.id == repository.openedKeyId }?.damage == nil)
        let report = try repository.verify(readData: false)
        #expect(report.problems.contains { $0.object == "key slot keys/\(second)" })
    }
}
