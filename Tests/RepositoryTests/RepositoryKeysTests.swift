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
}
