import Foundation
import Postgres
@testable import Repository
import TestSupport
import Testing

/// A repository written by Lifeboat's format 2 (`Tests/Fixtures/README.md` says how it was made), unpacked into
/// `folder`: `repo/`, `repo.key`, `passphrase`, `sysid`.
func unpackFormat2Fixture(into folder: TemporaryDirectory) throws {
    let archive = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/format2-repository.tar.gz").path
    let result = try ProcessRunner.run("/bin/tar", ["-xzf", archive, "-C", folder.path])
    #expect(result.status == 0, "\(result.stderr)")
}

/// Every file below `root` (relative path → content), for before/after comparisons.
func snapshot(_ root: String, under folder: String) -> [String: Data] {
    var files: [String: Data] = [:]
    for case let path as String in FileManager.default.enumerator(atPath: root + "/" + folder)?.allObjects ?? [] {
        var isFolder: ObjCBool = false
        let full = root + "/" + folder + "/" + path
        if FileManager.default.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue {
            files[folder + "/" + path] = FileManager.default.contents(atPath: full)
        }
    }
    return files
}

func repositoryFormat(_ repo: String) throws -> Int {
    let config = try #require(FileManager.default.contents(atPath: repo + "/config"))
    return try #require((try JSONSerialization.jsonObject(with: config) as? [String: Any])?["lifeboat_repository"] as? Int)
}

@Suite("Repository format 2 → 3: repo upgrade, crash-safe", .serialized)
struct FormatUpgradeTests {
    @Test("a format 2 repository is refused with the upgrade named; repo upgrade killed twice and run again; every backup restores")
    func upgrade() async throws {
        let bench = try CLIBench()
        try unpackFormat2Fixture(into: bench.folder)
        let repo = bench.folder.file("repo"), key = bench.folder.file("repo.key")
        let cluster = bench.read("sysid")
        try PostgresCluster.shareWithServer(repo)
        try PostgresCluster.shareWithServer(key)
        func lifeboat(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
            var cli = bench.cli
            cli.environment.merge(environment) { $1 }
            return try cli.run(arguments + ["--repo", repo, "--key-file", key])
        }
        #expect(try repositoryFormat(repo) == 2)

        // Until upgraded: commands that need the new layout say so and name the command; nothing changes.
        let before = snapshot(repo, under: "wal")
        #expect(before.count == 9)
        for arguments in [["backup", "list"], ["verify"], ["repo", "expire", "--keep-last", "1"], ["repo", "gc"],
                          ["restore", "--to", bench.folder.file("early")]] {
            let refused = try lifeboat(arguments)
            #expect(refused.status == 10, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains("format 2") && refused.stderr.contains("lifeboat repo upgrade --repo \(repo)"),
                    "\(refused.stderr)")
        }
        let segment = bench.folder.file("000000010000000000000003")
        #expect(try lifeboat(["wal", "fetch", "000000010000000000000003", segment]).status == 0)  // still served
        #expect(size(segment) == 16 << 20)
        #expect(snapshot(repo, under: "wal") == before)
        let archived = try #require(try FileManager.default.attributesOfItem(
            atPath: repo + "/wal/00000002/000000020000000000000006")[.modificationDate] as? Date)
        // One file "archived late" by a format 2 writer: out of the repository until the format has changed.
        let late = "wal/00000001/000000010000000000000005"
        try FileManager.default.moveItem(atPath: repo + "/" + late, toPath: bench.folder.file("late-segment"))

        // Killed while moving WAL: still format 2, every format 2 file as it was.
        let first = try lifeboat(["repo", "upgrade"], environment: ["LIFEBOAT_FAILPOINTS": "upgrade.wal-moved=3"])
        #expect(first.status == 128 + SIGKILL, "\(first.stdout)\(first.stderr)")
        #expect(try repositoryFormat(repo) == 2)
        let afterFirst = snapshot(repo, under: "wal")
        #expect(afterFirst.filter { $0.key.split(separator: "/").count == 3 } == before.filter { $0.key != late })
        #expect(afterFirst.keys.contains { $0.hasPrefix("wal/\(cluster)/") })
        #expect(try lifeboat(["backup", "list"]).status == 10)
        #expect(try lifeboat(["wal", "fetch", "000000010000000000000003", segment]).status == 0)

        // Killed right after the format changed: format 3 opens and is complete; the old files are left over.
        let second = try lifeboat(["repo", "upgrade"], environment: ["LIFEBOAT_FAILPOINTS": "upgrade.after-config=1"])
        #expect(second.status == 128 + SIGKILL, "\(second.stdout)\(second.stderr)")
        #expect(try repositoryFormat(repo) == 3)
        let listed = try lifeboat(["backup", "list", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let backups = try jsonList(listed)
        #expect(backups.count == 2)
        #expect(backups.allSatisfy { $0["cluster"] as? String == "fixture" && $0["system_identifier"] as? String == cluster })
        // Complete but for the late segment (a gap verify names: it is not archived yet).
        let midway = try lifeboat(["verify", "--read-data"])
        #expect(midway.status == 3, "\(midway.stdout)\(midway.stderr)")
        let problems = midway.stdout.split(separator: "\n")
        #expect(!problems.isEmpty && problems.allSatisfy { $0.contains("WAL 000000010000000000000005: missing") }, "\(midway.stdout)")
        #expect(midway.stderr.contains("left over from an interrupted upgrade"))
        #expect(snapshot(repo, under: "wal").filter { $0.key.split(separator: "/").count == 3 } == before.filter { $0.key != late })
        // A server restored before the upgrade still recovers (its restore_command names no cluster).
        #expect(try lifeboat(["wal", "fetch", "000000010000000000000002", bench.folder.file("early-fetch")]).status == 0)

        // The late file arrives in the format 2 layout: format 3 still serves it, verify names it, the upgrade moves it.
        try FileManager.default.moveItem(atPath: bench.folder.file("late-segment"), toPath: repo + "/" + late)
        let served = bench.folder.file("served/000000010000000000000005")
        try FileManager.default.createDirectory(atPath: bench.folder.file("served"), withIntermediateDirectories: true)
        #expect(try lifeboat(["wal", "fetch", "000000010000000000000005", served, "--cluster", cluster]).status == 0)
        #expect(size(served) == 16 << 20)
        let lateVerify = try lifeboat(["verify"])
        #expect(lateVerify.status == 3, "\(lateVerify.stdout)\(lateVerify.stderr)")
        #expect(lateVerify.stdout.contains("WAL \(late): left in the format 2 layout with no copy"), "\(lateVerify.stdout)")

        // Killed while removing the old files, then run to the end.
        let third = try lifeboat(["repo", "upgrade"], environment: ["LIFEBOAT_FAILPOINTS": "upgrade.wal-removed=2"])
        #expect(third.status == 128 + SIGKILL)
        let done = try lifeboat(["repo", "upgrade", "--json"])
        #expect(done.status == 0, "\(done.stderr)")
        let report = try json(done)
        #expect(report["from_format"] as? Int == 3 && report["to_format"] as? Int == 3)
        #expect(report["unattributed"] as? [String] == [])
        #expect(report["wal_moved"] as? Int == 1)  // the late one
        let after = snapshot(repo, under: "wal")
        #expect(after.keys.allSatisfy { $0.hasPrefix("wal/\(cluster)/") }, "\(after.keys.sorted())")
        #expect(Set(after.keys.map { ($0 as NSString).lastPathComponent }) == Set(before.keys.map { ($0 as NSString).lastPathComponent }))
        #expect(FileManager.default.fileExists(atPath: repo + "/clusters/\(cluster)"))
        // Archive times are kept (the timeline archived last is still the one archived last).
        let moved = try #require(try FileManager.default.attributesOfItem(
            atPath: repo + "/wal/\(cluster)/00000002/000000020000000000000006")[.modificationDate] as? Date)
        #expect(abs(moved.timeIntervalSince(archived)) < 0.001)
        let nothing = try lifeboat(["repo", "upgrade"])
        #expect(nothing.status == 0 && nothing.stdout.contains("nothing to do"), "\(nothing.stdout)")
        let verify = try lifeboat(["verify", "--read-data"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(!verify.stderr.contains("left over"))

        // Every backup restores: onto timeline 2, the one archived last, with all 3100 rows.
        for backup in backups.compactMap({ $0["id"] as? String }) {
            let scratch = try TemporaryDirectory(prefix: "lifeboat-restored")
            var arguments = ["restore", "--to", scratch.file("pgdata"), "--backup", backup]
            if geteuid() == 0 { arguments += ["--owner", "postgres"] }
            let restored = try lifeboat(arguments)
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(restored.stdout.contains("recovery follows timeline 2"), "\(restored.stdout)")
            let server = try await startRecovered(scratch)
            defer { server.stop() }
            let db = try server.connect()
            #expect(try db.query("SELECT count(*) FROM t").scalar == "3100")
            #expect(try db.query("SELECT system_identifier::text FROM pg_control_system()").scalar == cluster)
        }
        // And the cluster's archive takes new WAL again.
        let pushed = try lifeboat(["wal", "push", segment, "--cluster", cluster])
        #expect(pushed.status == 0, "\(pushed.stderr)")
    }

    @Test("an old WAL file whose cluster cannot be told stops the upgrade before the format changes; --assign says whose it is")
    func unattributed() throws {
        let bench = try CLIBench()
        try unpackFormat2Fixture(into: bench.folder)
        let repo = bench.folder.file("repo"), key = bench.folder.file("repo.key")
        let cluster = bench.read("sysid")
        // What a format 2 archive shared by two clusters held: a second cluster's segment on timeline 1, and a history
        // branching off timeline 1 that names no segment either cluster has.
        let older = try BackupRepository.open(at: repo, credential: .keyFile(key), allowingOlderFormat: true)
        let foreign = "wal/00000001/000000010000000000000040"
        try older.store.write(foreign, older.codec.seal(WALFixture.segment("000000010000000000000040", systemIdentifier: 7000000000000000009),
                                                        kind: .wal, name: foreign), mode: .createNew)
        let history = "wal/00000005/00000005.history"
        try older.store.write(history, older.codec.seal(Array("1\t0/50000000\tno recovery target specified\n".utf8),
                                                        kind: .wal, name: history), mode: .createNew)
        let before = snapshot(repo, under: "wal")

        let refused = try bench.run(["repo", "upgrade", "--repo", repo, "--key-file", key])
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains(history) && refused.stderr.contains("--assign"), "\(refused.stderr)")
        #expect(try repositoryFormat(repo) == 2)
        #expect(snapshot(repo, under: "wal").filter { $0.key.split(separator: "/").count == 3 } == before)

        let assigned = try bench.run(["repo", "upgrade", "--repo", repo, "--key-file", key, "--assign", "\(history)=\(cluster)"])
        #expect(assigned.status == 0, "\(assigned.stderr)")
        #expect(assigned.stdout.contains("2 clusters"), "\(assigned.stdout)")
        #expect(try repositoryFormat(repo) == 3)
        #expect(FileManager.default.fileExists(atPath: repo + "/wal/7000000000000000009/00000001/000000010000000000000040"))
        #expect(FileManager.default.fileExists(atPath: repo + "/wal/\(cluster)/00000005/00000005.history"))
        #expect(snapshot(repo, under: "wal").keys.allSatisfy { $0.split(separator: "/").count == 4 })
    }
}
