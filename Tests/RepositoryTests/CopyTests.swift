import Foundation
import Repository
import TestSupport
import Testing
import LifeboatCrypto

@Suite("Copies between repositories")
struct CopyTests {
    @Test("git bundles and timeline history files are copied, re-encrypted or as stored, once; pruned ones stay pruned")
    func bundlesAndHistory() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let source = try BackupRepository.initialize(at: folder.file("a"), passphrase: Array("a".utf8), scryptN: testN)
        let other = try BackupRepository.initialize(at: folder.file("b"), passphrase: Array("b".utf8), scryptN: testN)
        let replica = try BackupRepository.initialize(in: FileStore(root: folder.file("c")), replicaOf: source,
                                                      passphrase: Array("c".utf8), scryptN: testN)
        #expect(!source.sharesObjects(with: other) && source.sharesObjects(with: replica))

        let content = SecureRandom.bytes(700_000)
        let file = folder.file("bundle")
        FileManager.default.createFile(atPath: file, contents: Data(content))
        let first = try source.storeBundle(source: "app", file: file, refs: ["refs/heads/main": "abc"])
        _ = try source.pushWAL(name: "00000002.history", contents: Array("1\t0/3000000\tpromoted".utf8), cluster: "7000000000000000001")

        for destination in [other, replica] {
            let report = try source.copy(to: destination)
            #expect(report.bundlesCopied == 1 && report.walCopied == 1)
            #expect(report.reencrypted == (destination === other))
            let restored = folder.file("restored-\(destination.id.prefix(4))-\(report.reencrypted)")
            let copied = try #require(try destination.bundles(source: "app").first)
            try destination.writeBundle(copied, to: restored)
            #expect(FileManager.default.contents(atPath: restored) == Data(content))
            #expect(try destination.fetchWAL(name: "00000002.history", cluster: "7000000000000000001") == Array("1\t0/3000000\tpromoted".utf8))
            let again = try source.copy(to: destination)
            #expect(again.bundlesCopied == 0 && again.chunksCopied == 0 && again.walCopied == 0)
        }

        // A newer bundle is copied; one the destination pruned (older than its newest) is not brought back.
        let newer = try source.storeBundle(source: "app", file: file, refs: ["refs/heads/main": "def"])
        #expect(try source.copy(to: other).bundlesCopied == 1)
        try other.removeBundle(first.id)
        #expect(try source.copy(to: other).bundlesCopied == 0)
        #expect(try other.bundles(source: "app").map(\.id) == [newer.id])
    }
}
