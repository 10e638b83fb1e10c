import Foundation
import Postgres
import TestSupport
import Testing

func json(_ result: ProcessResult) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
}

/// Every file below `chunks/`, named or staged.
func allChunkFiles(_ repo: String) -> [String] {
    (FileManager.default.enumerator(atPath: repo + "/chunks")?.allObjects as? [String] ?? [])
        .filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") || ($0 as NSString).lastPathComponent.count == 64 }
}

func chunkFiles(_ repo: String) -> [String] {
    (FileManager.default.enumerator(atPath: repo + "/chunks")?.allObjects as? [String] ?? [])
        .filter { ($0 as NSString).lastPathComponent.count == 64 }
}

func pgbench(_ cluster: PostgresCluster, scale: Int) throws {
    let result = try ProcessRunner.run(cluster.binDirectory + "/pgbench",
                                       ["-i", "-s", String(scale), "-q", "-h", cluster.socketDirectory,
                                        "-p", String(cluster.port), "-U", "postgres", "postgres"])
    #expect(result.status == 0, "\(result.stderr)")
}

@Suite("Interrupted backups, verification, garbage collection and retention", .serialized)
struct BackupMaintenanceTests {
    @Test("a backup killed mid-stream is not listed; gc removes its chunks; the next backup succeeds and verifies")
    func killedBackup() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            try pgbench(source, scale: 8)
            let process = try setup.bench.cli.start(["backup", "--conninfo", source.conninfo(), "--repo", setup.repo,
                                                     "--key-file", setup.keyFile])
            // Freeze the server's WAL sender mid-stream, so the kill lands while the backup is half done. The
            // polling runs on its own thread so that a busy test pool cannot make it miss the backup.
            let conninfo = source.conninfo(), repo = setup.repo
            let (frozen, sender) = try await onOwnThread { () throws -> (Bool, Int32) in
                let db = try PostgresConnection(conninfo: conninfo)
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline {
                    let pid = Int32((try db.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender'").scalar) ?? "") ?? 0
                    if pid > 0 {
                        kill(pid, SIGSTOP)
                        if allChunkFiles(repo).count >= 20 { return (true, pid) }
                        kill(pid, SIGCONT)
                    }
                    usleep(2_000)
                }
                return (false, 0)
            }
            #expect(frozen, "the backup finished before it could be interrupted")
            process.signal(SIGKILL)
            #expect(process.wait().status == 128 + SIGKILL)
            if sender > 0 { kill(sender, SIGCONT) }

            let listed = try setup.lifeboat(["backup", "list", "--json"])
            #expect(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]"
                || listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
            // Its chunks were staged, never published: no chunk name points at them.
            #expect(chunkFiles(setup.repo).isEmpty)
            let leftovers = allChunkFiles(setup.repo).count
            #expect(leftovers >= 20)

            let gc = try json(try setup.lifeboat(["repo", "gc", "--json"]))
            #expect(gc["leftovers_removed"] as? Int == leftovers)
            #expect(allChunkFiles(setup.repo).isEmpty)

            let backup = try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            let verify = try setup.lifeboat(["verify", "--read-data"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
            let again = try json(try setup.lifeboat(["repo", "gc", "--json"]))
            #expect(again["chunks_removed"] as? Int == 0)
        }
    }

    @Test("verify names the backup and file of a flipped byte, and reports a removed WAL segment as a gap")
    func verifyFindsDamage() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 100000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            for _ in 0..<3 {
                try db.query("INSERT INTO t VALUES (0, 'more')")
                try await waitForArchive(db)
            }
            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)

            let chunks = chunkFiles(setup.repo).map { setup.repo + "/chunks/" + $0 }
            let victim = try #require(chunks.max { size($0) < size($1) })
            var bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
            bytes[bytes.count - 20] ^= 0x40
            try bytes.write(to: URL(fileURLWithPath: victim))

            #expect(try setup.lifeboat(["verify"]).status == 0)  // present; only reading finds the damage
            let damaged = try setup.lifeboat(["verify", "--read-data"])
            #expect(damaged.status == 3)
            let line = try #require(damaged.stdout.split(separator: "\n").first.map(String.init))
            #expect(line.hasPrefix("backup 2"))
            #expect(line.contains("file base/"))
            #expect(line.contains((victim as NSString).lastPathComponent))
            #expect(line.contains("fails authentication"))

            // Remove an archived segment after the backup's own: a gap.
            let timeline = setup.repo + "/wal/00000001"
            let segments = try FileManager.default.contentsOfDirectory(atPath: timeline).filter { $0.count == 24 }.sorted()
            let report = try json(try setup.lifeboat(["verify", "--json"]))
            _ = report
            let gone = segments[segments.count - 2]
            try FileManager.default.removeItem(atPath: timeline + "/" + gone)
            let gap = try setup.lifeboat(["verify"])
            #expect(gap.status == 3)
            #expect(gap.stdout.contains("WAL \(gone): missing: a gap in the archive"))
        }
    }

    @Test("verify follows the WAL chain onto the timeline a promoted restore started, and finds a gap there")
    func timelines() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            try db.query("INSERT INTO t VALUES (0)")
            try await waitForArchive(db)
            source.stop()

            // The restored server is promoted onto timeline 2 and archives into the same repository.
            let restored = try await setup.restoreAndStart(["--target", "immediate"], archiving: true)
            defer { restored.stop() }
            let promoted = try restored.connect()
            for _ in 0..<2 {
                try promoted.query("INSERT INTO t VALUES (1)")
                try await waitForArchive(promoted)
            }
            let timeline2 = try FileManager.default.contentsOfDirectory(atPath: setup.repo + "/wal/00000002").sorted()
            #expect(timeline2.contains("00000002.history"))
            let segments = timeline2.filter { $0.count == 24 }
            #expect(segments.count >= 2)

            let ok = try setup.lifeboat(["verify", "--json"])
            #expect(ok.status == 0, "\(ok.stdout)")
            let gone = try #require(segments.first)
            try FileManager.default.removeItem(atPath: setup.repo + "/wal/00000002/" + gone)
            let gap = try setup.lifeboat(["verify"])
            #expect(gap.status == 3)
            #expect(gap.stdout.contains("WAL \(gone): missing: a gap in the archive"))
        }
    }

    @Test("expire keeps exactly the policy's backups and the WAL they need")
    func retention() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t (id int, v text)")
            var ids: [String] = []
            for round in 0..<4 {
                try db.query("INSERT INTO t SELECT g, md5((g * \(round + 1))::text) FROM generate_series(1, 20000) g")
                let backup = try json(try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"]))
                ids.append(try #require(backup["id"] as? String))
            }
            try await waitForArchive(db)
            let before = try json(try setup.lifeboat(["backup", "info", ids[2], "--json"]))
            let firstNeeded = try #require(before["wal_first"] as? String)

            let dry = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "2", "--dry-run", "--json"]))
            #expect(dry["removed"] as? [String] == [ids[0], ids[1]])
            #expect(try setup.lifeboat(["backup", "list", "--json"]).stdout.contains(ids[0]))

            let expired = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "2", "--json"]))
            #expect(expired["kept"] as? [String] == [ids[2], ids[3]])
            #expect(expired["removed"] as? [String] == [ids[0], ids[1]])
            #expect((expired["wal_removed"] as? Int ?? 0) > 0)
            #expect(((expired["garbage"] as? [String: Any])?["chunks_removed"] as? Int ?? 0) > 0)

            let remaining = try JSONSerialization.jsonObject(
                with: Data(try setup.lifeboat(["backup", "list", "--json"]).stdout.utf8)) as? [[String: Any]]
            #expect(remaining?.map { $0["id"] as? String } == [ids[2], ids[3]])
            let wal = try FileManager.default.contentsOfDirectory(atPath: setup.repo + "/wal/00000001").sorted()
            #expect(wal.first.map { String($0.prefix(24)) } == firstNeeded)
            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)

            let refused = try setup.lifeboat(["repo", "expire"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("at least one keep rule"))
        }
    }
}
