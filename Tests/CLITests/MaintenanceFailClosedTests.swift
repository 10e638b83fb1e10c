import Foundation
import Repository
import TestSupport
import Testing
import LifeboatCrypto

/// gc and backups fail closed: a read error, a shrunken listing or a lost lease stops them before anything is lost.
@Suite("maintenance fails closed", .serialized)
struct MaintenanceFailClosedTests {
    @Test("gc keeps an unreadable unindexed pack, and refuses a backups listing shorter than the last gc saw")
    func gcOnFolder() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 20000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            // Junk where a pack would be: no index lists it and its trailer cannot be read.
            let junk = "packs/ab/ab" + String(repeating: "0", count: 30)
            try FileManager.default.createDirectory(atPath: setup.repo + "/packs/ab", withIntermediateDirectories: true)
            try Data(SecureRandom.bytes(5000)).write(to: URL(fileURLWithPath: setup.repo + "/" + junk))
            let gc = try setup.lifeboat(["repo", "gc", "--json"])
            #expect(gc.status == 0, "\(gc.stderr)")
            #expect((try json(gc)["unreadable_packs"] as? [String]) == [String(junk.split(separator: "/").last!)])
            #expect(FileManager.default.fileExists(atPath: setup.repo + "/" + junk), "gc removed a pack it could not read")
            try FileManager.default.removeItem(atPath: setup.repo + "/" + junk)

            // A manifest gone behind gc's back (or a listing that lost one): gc removes nothing.
            let ids = try jsonList(try setup.lifeboat(["backup", "list", "--json"])).compactMap { $0["id"] as? String }
            #expect(ids.count == 2)
            let packsBefore = allPackFiles(setup.repo)
            try FileManager.default.removeItem(atPath: setup.repo + "/backups/" + ids[0])
            let refused = try setup.lifeboat(["repo", "gc"])
            #expect(refused.status == 3, "\(refused.stderr)")
            #expect(refused.stderr.contains("lists 1 backups, but held 2") && refused.stderr.contains("--accept-backups 1"),
                    "\(refused.stderr)")
            #expect(allPackFiles(setup.repo) == packsBefore)
            let accepted = try setup.lifeboat(["repo", "gc", "--accept-backups", "1"])
            #expect(accepted.status == 0, "\(accepted.stderr)")
            // expire records what it removes: the gc after it does not refuse.
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            #expect(try setup.lifeboat(["repo", "expire", "--keep-last", "1"]).status == 0)
            let after = try setup.lifeboat(["repo", "gc"])
            #expect(after.status == 0, "\(after.stderr)")
            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)
        }
    }

    @Test("on S3, gc stops when a pack's trailer cannot be read (lost index): nothing is removed; a SIGSTOPped backup whose lease lapsed commits nothing")
    func s3LeasesAndReads() async throws {
        let s3 = try await S3Bench(environment: ["LIFEBOAT_LOCK_STALE_AFTER": "10"])
        let proxy = try await FaultProxy(upstream: s3.server, actions: ["rule:GET:/packs/:500", "ok"])
        let repo = s3.server.location("failclosed/db", through: proxy)
        let directRepo = repo.replacingOccurrences(of: proxy.endpoint, with: s3.server.endpoint)
        let passphrase = try s3.bench.folder.write("passphrase", "s3 passphrase")
        #expect(try s3.bench.run(["repo", "init", "--repo", directRepo, "--passphrase-file", passphrase]).status == 0)
        let keyFile = s3.bench.folder.file("repo.key")
        #expect(try s3.bench.run(["repo", "key", "export", "--repo", directRepo, "--passphrase-file", passphrase, "--to", keyFile]).status == 0)
        func lifeboat(_ arguments: [String], direct: Bool = true) throws -> ProcessResult {
            try s3.bench.run(arguments + ["--repo", direct ? directRepo : repo, "--key-file", keyFile])
        }
        try await PostgresCluster.with(settings: "") { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g, repeat(md5(g::text), 10) AS v FROM generate_series(1, 20000) g")
            #expect(try lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            let store = try s3.directStore(directRepo)
            let packs = try store.listAll("packs").map(\.path)
            for index in try store.listAll("index") { try store.remove(index.path) }

            let failed = try lifeboat(["repo", "gc"], direct: false)
            #expect(failed.status != 0, "\(failed.stdout)")
            #expect(failed.stderr.contains("cannot read the trailer of pack"), "\(failed.stderr)")
            #expect(try store.listAll("packs").map(\.path) == packs, "gc removed packs it could not read")
            #expect((proxy.counts["500"] ?? 0) > 0)
            let recovered = try lifeboat(["repo", "gc", "--json"])
            #expect(recovered.status == 0, "\(recovered.stderr)")
            #expect(try json(recovered)["packs_recovered"] as? Int ?? 0 >= 1)
            #expect(try lifeboat(["verify", "--read-data"]).status == 0)

            // A backup paused right before its manifest, longer than the lock's stale time; gc runs meanwhile.
            try db.query("CREATE TABLE u AS SELECT g, md5((g * 7)::text) AS v FROM generate_series(1, 20000) g")
            var cli = s3.bench.cli
            cli.environment["LIFEBOAT_FAILPOINTS"] = "backup.before-manifest=1:stop"
            let paused = try cli.start(["backup", "--conninfo", source.conninfo(), "--repo", directRepo, "--key-file", keyFile])
            let stopped = await eventually(120) {
                let stat = (try? String(contentsOfFile: "/proc/\(paused.pid)/stat", encoding: .utf8)) ?? ""
                return stat.split(separator: ")").last?.split(separator: " ").first == "T"
            }
            #expect(stopped, "the backup did not reach its failpoint: \(paused.stderrSoFar)")
            try await Task.sleep(for: .seconds(12))
            let collected = try lifeboat(["repo", "gc", "--json"])
            #expect(collected.status == 0, "\(collected.stderr)")
            #expect((try json(collected)["chunks_removed"] as? Int ?? 0) > 0, "gc found nothing of the paused backup to remove")
            paused.signal(SIGCONT)
            let result = paused.wait()
            #expect(result.status == 11, "\(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("lock was lost"), "\(result.stderr)")
            let listed = try jsonList(try lifeboat(["backup", "list", "--json"]))
            #expect(listed.count == 1, "a backup committed after losing its lease")
            #expect(try lifeboat(["verify", "--read-data"]).status == 0)

            // The other way round: a gc paused past the stale time; a backup takes over and commits; gc removes nothing.
            cli.environment["LIFEBOAT_FAILPOINTS"] = "gc.before-remove=1:stop"
            let pausedGC = try cli.start(["repo", "gc", "--repo", directRepo, "--key-file", keyFile])
            let gcStopped = await eventually(120) {
                let stat = (try? String(contentsOfFile: "/proc/\(pausedGC.pid)/stat", encoding: .utf8)) ?? ""
                return stat.split(separator: ")").last?.split(separator: " ").first == "T"
            }
            #expect(gcStopped, "gc did not reach its failpoint: \(pausedGC.stderrSoFar)")
            try await Task.sleep(for: .seconds(12))
            let during = try lifeboat(["backup", "--conninfo", source.conninfo()])
            #expect(during.status == 0, "\(during.stderr)")
            pausedGC.signal(SIGCONT)
            let gcResult = pausedGC.wait()
            #expect(gcResult.status == 11, "\(gcResult.stdout)\(gcResult.stderr)")
            #expect(gcResult.stderr.contains("lock was lost"), "\(gcResult.stderr)")
            #expect(try jsonList(try lifeboat(["backup", "list", "--json"])).count == 2)
            #expect(try lifeboat(["verify", "--read-data"]).status == 0)
        }
    }
}
