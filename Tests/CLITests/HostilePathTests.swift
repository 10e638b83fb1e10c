import Foundation
import Repository
import TestSupport
import Testing

/// Paths in a manifest are never trusted: restore refuses those that could write outside the restored folder.
@Suite("hostile paths in a manifest")
struct HostilePathTests {
    @Test("a manifest naming ../, an absolute path, or a file below a link is refused before anything is written")
    func hostileManifests() throws {
        let bench = try CLIBench()
        let passphrase = try bench.folder.write("passphrase", "paths\n")
        let repo = bench.folder.file("repo")
        #expect(try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase]).status == 0)
        let opened = try BackupRepository.open(at: repo, credential: .passphrase(Array("paths".utf8)))
        let content = Array("owned\n".utf8)
        let chunk = try content.withUnsafeBytes { try opened.putChunk($0) }.id
        let outside = bench.folder.file("outside")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        func file(_ path: String) -> BackupManifest.File {
            BackupManifest.File(archive: "base", path: path, kind: "file", mode: 0o600, size: Int64(content.count), mtime: 0,
                                chunks: [chunk])
        }
        let folder = BackupManifest.File(archive: "base", path: "global", kind: "directory", mode: 0o700, size: 0, mtime: 0)
        let link = BackupManifest.File(archive: "base", path: "global/out", kind: "symlink", mode: 0o777, size: 0, mtime: 0,
                                       link: outside)
        let cases: [[BackupManifest.File]] = [
            [folder, file("../escaped")],
            [folder, file(outside + "/absolute")],
            [folder, link, file("global/out/below-link")],
            [file("nofolder/file")],
            [folder, file("global/twice"), file("global/twice")],
        ]
        let lock = try RepositoryLock.acquire(opened, .shared, timeout: 0)
        var ids: [String] = []
        for files in cases {
            let (id, started) = try opened.newBackupId()
            let manifest = BackupManifest(id: id, label: "hostile", source: "hostile", systemIdentifier: "7300000000000000009",
                                          timeline: 1, startLSN: "0/2000028", stopLSN: "0/2000100", startTime: started,
                                          stopTime: started, postgresVersion: 150000, walIncluded: true, walSegments: [],
                                          walSegmentSize: 16 << 20, chunkSize: opened.config.chunkSize, tablespaces: [],
                                          files: files, statistics: BackupManifest.Statistics())
            ids.append(try opened.commitNew(manifest, under: lock).id)
        }
        withExtendedLifetime(lock) {}
        for (index, id) in ids.enumerated() {
            let target = bench.folder.file("restored-\(index)")
            let result = try bench.run(["restore", "--repo", repo, "--passphrase-file", passphrase, "--backup", id,
                                        "--to", target, "--no-archive"])
            #expect(result.status == 3, "case \(index): \(result.stderr)")
            #expect(result.stderr.contains("refusing to restore it"), "case \(index): \(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target), "case \(index) wrote its folder")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: bench.folder.file("escaped")))
        #expect(BackupManifest.unsafePathReason("base/1/1259") == nil)
        #expect(BackupManifest.unsafePathReason("base//1") != nil && BackupManifest.unsafePathReason("x/./y") != nil && BackupManifest.unsafePathReason("./pg_wal") == nil)
    }
}
