import Foundation
import Postgres
import Repository
import TestSupport
import Testing

func json(_ result: ProcessResult) throws -> [String: Any] {
    try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
}

/// Every file below `packs/`, complete or still being written, as full paths.
func allPackFiles(_ repo: String) -> [String] {
    (FileManager.default.enumerator(atPath: repo + "/packs")?.allObjects as? [String] ?? [])
        .filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") || ($0 as NSString).lastPathComponent.count == 32 }
        .map { repo + "/packs/" + $0 }
}

func indexFiles(_ repo: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: repo + "/index")) ?? []).filter { !$0.hasPrefix(".") }
}

/// Flips one byte inside the stored object of the first chunk of the backup's largest file below `base/`;
/// returns the chunk's id and the file's path.
func damageChunk(_ setup: ArchivingSetup, at position: (Int) -> Int) throws -> (chunk: String, file: String) {
    let repository = try BackupRepository.open(at: setup.repo, credential: .keyFile(setup.keyFile))
    let manifest = try #require(try repository.manifests().last)
    let file = try #require(manifest.files.filter { $0.path.hasPrefix("base/") }.max { $0.chunks.count < $1.chunks.count })
    let chunk = file.chunks[0]
    let location = try #require(try repository.chunkLocation(chunk))
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: setup.repo + "/" + location.path))
    defer { try? handle.close() }
    let offset = UInt64(location.offset + position(location.length))
    try handle.seek(toOffset: offset)
    let byte = try #require(handle.readData(ofLength: 1).first)
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: [byte ^ 0x40])
    return (chunk, file.path)
}

func pgbench(_ cluster: PostgresCluster, scale: Int) throws {
    let result = try ProcessRunner.run(cluster.binDirectory + "/pgbench",
                                       ["-i", "-s", String(scale), "-q", "-h", cluster.socketDirectory,
                                        "-p", String(cluster.port), "-U", "postgres", "postgres"])
    #expect(result.status == 0, "\(result.stderr)")
}

@Suite("Interrupted backups, verification, garbage collection and retention", .serialized)
struct BackupMaintenanceTests {
    @Test("a backup killed mid-stream is not listed; gc removes its packs; the next backup succeeds and verifies")
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
                        if allPackFiles(repo).reduce(0, { $0 + size($1) }) >= 256 * 1024 { return (true, pid) }
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
            // Its packs were written, never listed: no index names them.
            #expect(indexFiles(setup.repo).isEmpty)
            let leftovers = allPackFiles(setup.repo).count
            #expect(leftovers >= 1)

            let gc = try json(try setup.lifeboat(["repo", "gc", "--json"]))
            #expect(gc["leftovers_removed"] as? Int == leftovers)
            #expect(allPackFiles(setup.repo).isEmpty)

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

            let victim = try damageChunk(setup) { $0 - 20 }

            #expect(try setup.lifeboat(["verify"]).status == 0)  // present; only reading finds the damage
            let damaged = try setup.lifeboat(["verify", "--read-data"])
            #expect(damaged.status == 3)
            let line = try #require(damaged.stdout.split(separator: "\n").first.map(String.init))
            #expect(line.hasPrefix("backup 2"))
            #expect(line.contains("file \(victim.file)"))
            #expect(line.contains(victim.chunk))
            #expect(line.contains("fails authentication"))

            // Remove an archived segment after the backup's own: a gap.
            let timeline = setup.repo + "/wal/\(try systemIdentifier(source))/00000001"
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
            let restored = try await setup.restoreAndStart(["--target", "immediate", "--archive-mode", "preserve"], archiving: true)
            defer { restored.stop() }
            let promoted = try restored.connect()
            for _ in 0..<2 {
                try promoted.query("INSERT INTO t VALUES (1)")
                try await waitForArchive(promoted)
            }
            let wal = setup.repo + "/wal/\(try systemIdentifier(restored))"
            let timeline2 = try FileManager.default.contentsOfDirectory(atPath: wal + "/00000002").sorted()
            #expect(timeline2.contains("00000002.history"))
            let segments = timeline2.filter { $0.count == 24 }
            #expect(segments.count >= 2)

            let ok = try setup.lifeboat(["verify", "--json"])
            #expect(ok.status == 0, "\(ok.stdout)")
            let gone = try #require(segments.first)
            try FileManager.default.removeItem(atPath: wal + "/00000002/" + gone)
            let gap = try setup.lifeboat(["verify"])
            #expect(gap.status == 3)
            #expect(gap.stdout.contains("WAL \(gone): missing: a gap in the archive"))
        }
    }

    @Test("gc lists again the packs of a lost index from their trailers, and rewrites packs mostly unused")
    func lostIndex() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g, md5(g::text) FROM generate_series(1, 100000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            for name in indexFiles(setup.repo) {
                try FileManager.default.removeItem(atPath: setup.repo + "/index/" + name)
            }
            let lost = try setup.lifeboat(["verify"])
            #expect(lost.status == 3)
            #expect(lost.stdout.contains("no index lists it"))

            let gc = try json(try setup.lifeboat(["repo", "gc", "--json"]))
            #expect(gc["packs_recovered"] as? Int ?? 0 >= 1)
            #expect(gc["chunks_removed"] as? Int == 0)
            #expect(gc["leftovers_removed"] as? Int == 0)
            #expect(indexFiles(setup.repo).count == 1)
            let verified = try setup.lifeboat(["verify", "--read-data"])
            #expect(verified.status == 0, "\(verified.stdout)")

            // Replace the table and expire the first backup: its pack loses most of its chunks and is rewritten.
            try db.query("DROP TABLE t")
            try db.query("CREATE TABLE u AS SELECT g, md5((g + 7)::text) FROM generate_series(1, 100000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            let packsBefore = allPackFiles(setup.repo).count
            let expired = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "1", "--json"]))
            let garbage = try #require(expired["garbage"] as? [String: Any])
            #expect(garbage["chunks_removed"] as? Int ?? 0 > 0)
            #expect((garbage["packs_rewritten"] as? Int ?? 0) + (garbage["packs_removed"] as? Int ?? 0) >= 1)
            #expect(garbage["bytes_removed"] as? Int ?? 0 > 0)
            #expect(allPackFiles(setup.repo).count <= packsBefore)
            #expect(indexFiles(setup.repo).count == 1)
            let after = try setup.lifeboat(["verify", "--read-data"])
            #expect(after.status == 0, "\(after.stdout)")
            let again = try json(try setup.lifeboat(["repo", "gc", "--json"]))
            #expect(again["chunks_removed"] as? Int == 0)
            #expect(again["packs_rewritten"] as? Int == 0)
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
            // The expired backups' own chunks are gone, or left in packs where they are under 10 % (not worth a rewrite).
            let garbage = try #require(expired["garbage"] as? [String: Any])
            #expect((garbage["chunks_removed"] as? Int ?? 0) + (garbage["unused_chunks_kept"] as? Int ?? 0) > 0)

            let remaining = try JSONSerialization.jsonObject(
                with: Data(try setup.lifeboat(["backup", "list", "--json"]).stdout.utf8)) as? [[String: Any]]
            #expect(remaining?.map { $0["id"] as? String } == [ids[2], ids[3]])
            let wal = try FileManager.default.contentsOfDirectory(atPath: setup.repo + "/wal/\(try systemIdentifier(source))/00000001").sorted()
            #expect(wal.first.map { String($0.prefix(24)) } == firstNeeded)
            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)

            let refused = try setup.lifeboat(["repo", "expire"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("at least one keep rule"))
        }
    }
}
