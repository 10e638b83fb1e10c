import Foundation
import Repository
import TestSupport
import Testing

/// A restore that would stop early because a WAL segment is missing is refused before anything is written.
@Suite("restore refuses a known gap in the archive", .serialized)
struct RestoreGapTests {
    @Test("a segment missing after the backup: restore --target latest exits 3 naming it; --allow-gap restores and says where it stops")
    func gapBeforeLatest() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t (id int PRIMARY KEY, pad text)")
            try db.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
            let backup = try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            // Three more segments, each with rows of its own; the middle one goes missing.
            var switched: [String] = []
            var before: [String] = []  // a time before each round's commit
            for round in 1...3 {
                try await Task.sleep(for: .milliseconds(20))
                before.append(try #require(try db.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'").scalar))
                try await Task.sleep(for: .milliseconds(20))
                try db.query("INSERT INTO t SELECT g, 'round \(round)' FROM generate_series(\(round * 1000 + 1), \((round + 1) * 1000)) g")
                switched.append(try #require(try db.query("SELECT pg_walfile_name(pg_switch_wal())").scalar))
            }
            try await waitForArchive(db)
            let cluster = try systemIdentifier(source)
            let missing = switched[1]
            let path = setup.repo + "/wal/\(cluster)/\(missing.prefix(8))/\(missing)"
            #expect(FileManager.default.fileExists(atPath: path))
            try FileManager.default.removeItem(atPath: path)

            let verify = try setup.lifeboat(["verify"])
            #expect(verify.status == 3 && verify.stdout.contains(missing), "\(verify.stdout)")

            for target in [["--target", "latest"], ["--target-lsn", try #require(try db.query("SELECT pg_current_wal_lsn()::text").scalar)]] {
                let (scratch, refused) = try setup.restore(target)
                defer { scratch.remove() }
                #expect(refused.status == 3, "\(refused.stdout)\(refused.stderr)")
                #expect(refused.stderr.contains(missing) && refused.stderr.contains("--allow-gap"), "\(refused.stderr)")
                #expect(!FileManager.default.fileExists(atPath: scratch.file("pgdata/PG_VERSION")), "a refused restore wrote files")
            }
            // A time target reached before the gap (round 1's commit, before it, comes after the target): no refusal.
            // One whose next commit is in the missing segment: refused.
            let (earlyScratch, early) = try setup.restore(["--target-time", before[0]])
            #expect(early.status == 0, "\(early.stderr)")
            let earlyServer = try await startRecovered(earlyScratch)
            #expect(try earlyServer.connect().query("SELECT count(*) FROM t").scalar == "1000")
            earlyServer.stop()
            let (lateScratch, late) = try setup.restore(["--target-time", before[1]])
            lateScratch.remove()
            #expect(late.status == 3 && late.stderr.contains(missing), "\(late.stderr)")
            // Immediate needs only the backup's own WAL: no gap in the way.
            let (immediateScratch, immediate) = try setup.restore(["--target", "immediate"])
            immediateScratch.remove()
            #expect(immediate.status == 0, "\(immediate.stderr)")

            // --allow-gap with a target beyond the gap: the target is left out, so the server starts.
            let (timedScratch, timed) = try setup.restore(["--allow-gap", "--target-time", before[2]])
            #expect(timed.status == 0 && timed.stderr.contains("recovery target was left out"), "\(timed.stderr)")
            let timedServer = try await startRecovered(timedScratch)
            #expect(try timedServer.connect().query("SELECT count(*) FROM t").scalar == "2000")
            timedServer.stop()

            let (scratch, allowed) = try setup.restore(["--allow-gap"])
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(allowed.stderr.contains("recovery will stop there") && allowed.stderr.contains(missing), "\(allowed.stderr)")
            let restored = try await startRecovered(scratch)
            defer { restored.stop() }
            // Recovery stopped at the gap: the rows of the first round are there, those after it are not.
            let count = try restored.connect().query("SELECT count(*) FROM t").scalar
            #expect(count == "2000", "rows after recovery: \(count ?? "?")")
        }
    }

    @Test("a repository and key file whose paths hold spaces and quotes: restore_command keeps them whole")
    func quotedPaths() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            try db.query("INSERT INTO t SELECT g FROM generate_series(1001, 1500) g")
            try await waitForArchive(db)
            let odd = setup.bench.folder.file("it's a repo")
            #expect(try ProcessRunner.run("/bin/cp", ["-a", setup.repo, odd]).status == 0)
            let oddKey = setup.bench.folder.file("key file's copy")
            #expect(try ProcessRunner.run("/bin/cp", ["-a", setup.keyFile, oddKey]).status == 0)
            let scratch = try TemporaryDirectory(prefix: "lifeboat-restored")
            var arguments = ["restore", "--to", scratch.file("pgdata"), "--repo", odd, "--key-file", oddKey]
            if geteuid() == 0 { arguments += ["--owner", "postgres"] }
            let restored = try setup.bench.run(arguments)
            #expect(restored.status == 0, "\(restored.stderr)")
            let server = try await startRecovered(scratch)
            defer { server.stop() }
            #expect(try server.connect().query("SELECT count(*) FROM t").scalar == "1500", "\(server.serverLog)")
            // The lease ended with recovery (recovery_end_command ran with the same paths).
            let opened = try BackupRepository.open(at: odd, credential: .keyFile(oddKey))
            #expect(try opened.recoveryLeases().isEmpty)
        }
    }

    @Test("a timeline with WAL but no history: verify names it, restore refuses instead of following an older one")
    func missingHistory() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 100) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            try await waitForArchive(db)
            let cluster = try systemIdentifier(source)
            // Timeline 2's segment arrives; its history does not.
            let opened = try BackupRepository.open(at: setup.repo, credential: .keyFile(setup.keyFile))
            let name = "000000020000000000000009"
            _ = try opened.pushWAL(name: name, contents: WALFixture.segment(name, systemIdentifier: UInt64(cluster)!),
                                   cluster: cluster)
            let verify = try setup.lifeboat(["verify"])
            #expect(verify.status == 3 && verify.stdout.contains("00000002.history") && verify.stdout.contains("no history file"),
                    "\(verify.stdout)")
            let (scratch, refused) = try setup.restore([])
            defer { scratch.remove() }
            #expect(refused.status == 3, "\(refused.stderr)")
            #expect(refused.stderr.contains("00000002.history is missing"), "\(refused.stderr)")
            let (chosenScratch, chosen) = try setup.restore(["--target-timeline", "1"])
            chosenScratch.remove()
            #expect(chosen.status == 0, "\(chosen.stderr)")
        }
    }
}
