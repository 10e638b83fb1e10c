import Foundation
import Postgres
import Repository
import TestSupport
import Testing

/// A repository with an exported key, shared with the server's OS user, and a cluster archiving into it.
struct ArchivingSetup {
    let bench: CLIBench
    let repo: String
    let keyFile: String

    init() throws {
        bench = try CLIBench()
        let passphrase = try bench.folder.write("passphrase", "pitr passphrase")
        repo = bench.folder.file("repo")
        keyFile = bench.folder.file("repo.key")
        let created = try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase])
        #expect(created.status == 0, "\(created.stderr)")
        let exported = try bench.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase, "--to", keyFile])
        #expect(exported.status == 0, "\(exported.stderr)")
        try PostgresCluster.shareWithServer(repo)
        try PostgresCluster.shareWithServer(keyFile)
    }

    var serverSettings: String {
        "archive_mode = on\narchive_command = '\(bench.cli.binary) wal push %p --repo \(repo) --key-file \(keyFile)'\n"
    }

    func lifeboat(_ arguments: [String]) throws -> ProcessResult {
        try bench.run(arguments + ["--repo", repo, "--key-file", keyFile])
    }

    /// Restores into a fresh folder and starts a server on it (not archiving); waits until recovery has ended.
    func restoreAndStart(_ extra: [String], archiving: Bool = false) async throws -> PostgresCluster {
        let (scratch, restored) = try restore(extra)
        #expect(restored.status == 0, "\(restored.stderr)")
        return try await startRecovered(scratch, options: archiving ? "" : "-c archive_mode=off")
    }

    /// `lifeboat restore` into a new folder `pgdata` below a temporary one (owned by the server's user as root).
    func restore(_ extra: [String]) throws -> (scratch: TemporaryDirectory, result: ProcessResult) {
        let scratch = try TemporaryDirectory(prefix: "lifeboat-restored")
        var arguments = ["restore", "--to", scratch.file("pgdata")] + extra
        if geteuid() == 0 { arguments += ["--owner", "postgres"] }
        return (scratch, try lifeboat(arguments))
    }
}

/// Starts a server on a restored folder (`options` for the server: "" keeps the restored configuration) and waits
/// until recovery has ended.
func startRecovered(_ scratch: TemporaryDirectory, options: String = "-c archive_mode=off") async throws -> PostgresCluster {
    let cluster = try PostgresCluster.start(existing: scratch, options: options)
    let connection = try cluster.connect()
    let promoted = await eventually(60) { (try? connection.query("SELECT pg_is_in_recovery()").scalar) == "f" }
    #expect(promoted, "recovery did not finish:\n\(cluster.serverLog)")
    return cluster
}

/// Waits until the archiver has stored every segment up to the current one.
func waitForArchive(_ connection: PostgresConnection) async throws {
    let segment = try connection.query("SELECT pg_walfile_name(pg_switch_wal())").scalar ?? ""
    let archived = await eventually(60) {
        let last = (try? connection.query("SELECT last_archived_wal FROM pg_stat_archiver").scalar) ?? nil
        return (last ?? "") >= segment
    }
    #expect(archived, "segment \(segment) was not archived")
}

@Suite("Base backups and point-in-time restores against PostgreSQL 15", .serialized)
struct BackupRestoreTests {
    @Test("restore to a time between two writes brings back exactly what was committed before it; latest brings back everything")
    func pointInTimeRoundTrip() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE orders (id int PRIMARY KEY, note text)")
            try db.query("INSERT INTO orders SELECT g, md5(g::text) FROM generate_series(1, 20000) g")

            let backup = try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
            let backupId = try #require(summary["id"] as? String)
            #expect((summary["logical_bytes"] as? Int ?? 0) > 10_000_000)
            #expect(summary["wal_included"] as? Bool == false)  // the server archives: the WAL is in the archive
            #expect((summary["wal_first"] as? String)?.count == 24)

            try db.query("INSERT INTO orders VALUES (20001, 'after the backup')")
            try await Task.sleep(for: .milliseconds(1100))
            let target = try #require(try db.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'").scalar)
            try await Task.sleep(for: .milliseconds(1100))
            try db.query("INSERT INTO orders VALUES (20002, 'after the target')")
            try await waitForArchive(db)

            let listed = try setup.lifeboat(["backup", "list", "--json"])
            let backups = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            #expect(backups.map { $0["id"] as? String } == [backupId])

            let atTarget = try await setup.restoreAndStart(["--target-time", target])
            defer { atTarget.stop() }
            let restored = try atTarget.connect()
            #expect(try restored.query("SELECT count(*) FROM orders").scalar == "20001")
            #expect(try restored.query("SELECT note FROM orders WHERE id = 20001").scalar == "after the backup")
            #expect(try restored.query("SELECT count(*) FROM orders WHERE id = 20002").scalar == "0")

            let latest = try await setup.restoreAndStart(["--backup", "latest"])
            defer { latest.stop() }
            let dumpSource = try dumpAll(source)
            let dumpRestored = try dumpAll(latest)
            #expect(dumpSource == dumpRestored)
            #expect(dumpRestored.contains("after the target"))
        }
    }

    @Test("named and LSN targets start from the newest backup before them: a restore point is found in the archived WAL")
    func namedTargets() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t (id int PRIMARY KEY, pad text)")
            let first = try json(try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"]))
            // Enough WAL that the restore point sits segments after the backup, records spanning pages.
            for round in 0..<3 {
                try db.query("INSERT INTO t SELECT g, repeat(md5(g::text), 40) FROM generate_series(\(round * 3000 + 1), \((round + 1) * 3000)) g")
                _ = try db.query("SELECT pg_switch_wal()")
            }
            try db.query("INSERT INTO t VALUES (100000, 'just before the restore point')")
            let pointEnd = try #require(try db.query("SELECT pg_create_restore_point('before-migration')::text").scalar)
            let lsnTarget = try #require(try db.query("SELECT pg_current_wal_lsn()::text").scalar)
            try db.query("INSERT INTO t VALUES (100001, 'after the restore point')")
            let second = try json(try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"]))
            try db.query("INSERT INTO t VALUES (100002, 'after the second backup')")
            try await waitForArchive(db)

            let (scratch, named) = try setup.restore(["--target-name", "before-migration", "--json"])
            #expect(named.status == 0, "\(named.stderr)")
            let summary = try json(named)
            #expect(summary["backup"] as? String == first["id"] as? String)  // the second backup is after the point
            let found = try #require(WALRange.parse(summary["restore_point_lsn"] as? String ?? ""))
            let end = try #require(WALRange.parse(pointEnd))
            #expect(found < end && end - found < 256, "restore point at \(WALRange.format(found)), its record ends at \(pointEnd)")
            do {
                let server = try await startRecovered(scratch)
                defer { server.stop() }
                let restored = try server.connect()
                #expect(try restored.query("SELECT count(*) FROM t").scalar == "9001")
                #expect(try restored.query("SELECT max(id) FROM t").scalar == "100000")
            }

            // An LSN before the second backup: the first; one after it: the second.
            let before = try setup.lifeboat(["restore", "--to", setup.bench.folder.file("lsn1"), "--target-lsn", lsnTarget,
                                             "--json"])
            #expect(try json(before)["backup"] as? String == first["id"] as? String, "\(before.stderr)")
            let latestLSN = try #require(try db.query("SELECT pg_current_wal_lsn()::text").scalar)
            let after = try setup.lifeboat(["restore", "--to", setup.bench.folder.file("lsn2"), "--target-lsn", latestLSN, "--json"])
            #expect(try json(after)["backup"] as? String == second["id"] as? String, "\(after.stderr)")

            // A name the archive does not have: refused before anything is written.
            let missing = try setup.lifeboat(["restore", "--to", setup.bench.folder.file("nowhere"), "--target-name", "no-such-point"])
            #expect(missing.status == 2, "\(missing.stderr)")
            #expect(missing.stderr.contains("no restore point named 'no-such-point'"))
            #expect(!FileManager.default.fileExists(atPath: setup.bench.folder.file("nowhere")))
        }
    }

    @Test("restore refuses a non-empty folder and stops on a damaged chunk, naming file and backup")
    func damage() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)

            let busy = try setup.bench.folder.write("busy/PG_VERSION", "15")
            let refused = try setup.lifeboat(["restore", "--to", (busy as NSString).deletingLastPathComponent, "--no-archive"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("is not empty"))
            // A restore that failed, and one without recovery settings, leave no recovery lease behind.
            let leases = { try BackupRepository.open(at: setup.repo, credential: .keyFile(setup.keyFile)).recoveryLeases() }
            #expect(try leases().isEmpty)
            // A bare name is a folder in the current directory.
            let work = setup.bench.folder.file("work")
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            for name in ["bare", "./dotted"] {
                let restored = try setup.bench.cli.run(["restore", "--to", name, "--no-archive", "--repo", setup.repo,
                                                        "--key-file", setup.keyFile], directory: work)
                #expect(restored.status == 0, "\(restored.stderr)")
                #expect(FileManager.default.fileExists(atPath: work + "/" + name + "/PG_VERSION"))
                #expect(restored.stdout.contains("into \(work)/\(name.replacingOccurrences(of: "./", with: ""))"), "\(restored.stdout)")
            }
            #expect(try leases().isEmpty)

            // Flip one byte in a chunk of some relation file's data.
            let victim = try damageChunk(setup) { $0 / 2 }
            let damaged = try setup.lifeboat(["restore", "--to", setup.bench.folder.file("out"), "--no-archive"])
            #expect(damaged.status == 3)
            #expect(damaged.stderr.contains("fails authentication"))
            #expect(damaged.stderr.contains("backup 2"))
            #expect(damaged.stderr.contains(", file \(victim.file)"))
        }
    }
}

func size(_ path: String) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
}

/// `pg_dumpall` of a cluster, without the lines that differ between any two dumps (the dump time and the random
/// `\restrict` keys of newer pg_dump).
func dumpAll(_ cluster: PostgresCluster) throws -> String {
    let result = try ProcessRunner.run(cluster.binDirectory + "/pg_dumpall",
                                       ["-h", cluster.socketDirectory, "-p", String(cluster.port), "-U", "postgres"])
    #expect(result.status == 0, "\(result.stderr)")
    return result.stdout.split(separator: "\n").filter { !$0.hasPrefix("-- Dumped") && !$0.hasPrefix("\\restrict") && !$0.hasPrefix("\\unrestrict") }.joined(separator: "\n")
}

@Suite("Deduplication across backups", .serialized)
struct DeduplicationTests {
    @Test("a second backup of a barely changed database stores less than 10 % of the first one's bytes")
    func secondBackupIsSmall() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let pgbench = try ProcessRunner.run(source.binDirectory + "/pgbench",
                                                ["-i", "-s", "5", "-q", "-h", source.socketDirectory, "-p", String(source.port),
                                                 "-U", "postgres", "postgres"])
            #expect(pgbench.status == 0, "\(pgbench.stderr)")
            func backup() throws -> [String: Any] {
                let result = try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"])
                #expect(result.status == 0, "\(result.stderr)")
                return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
            }
            let first = try backup()
            let db = try source.connect()
            try db.query("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 50000 = 0")
            let second = try backup()
            let firstBytes = try #require(first["new_stored_bytes"] as? Int)
            let secondBytes = try #require(second["new_stored_bytes"] as? Int)
            #expect(first["logical_bytes"] as? Int ?? 0 > 60_000_000)
            #expect(secondBytes * 10 < firstBytes, "first \(firstBytes) bytes, second \(secondBytes) bytes")
            #expect((second["new_chunks"] as? Int ?? 0) < (second["chunks"] as? Int ?? 0) / 10)
        }
    }
}

@Suite("Delta restores and tablespaces", .serialized)
struct DeltaAndTablespaceTests {
    @Test("--delta rewrites only what differs, removes what the backup lacks, and the result starts")
    func delta() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g, md5(g::text) AS v FROM generate_series(1, 200000) g")
            let first = try json(try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"]))
            try db.query("INSERT INTO t VALUES (-1, 'second backup')")
            let second = try json(try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"]))

            let scratch = try TemporaryDirectory(prefix: "lifeboat-restored")
            let target = scratch.file("pgdata")
            let owner = geteuid() == 0 ? ["--owner", "postgres"] : []
            let full = try setup.lifeboat(["restore", "--backup", try #require(first["id"] as? String), "--to", target,
                                           "--no-archive", "--json"] + owner)
            #expect(full.status == 0, "\(full.stderr)")
            try "stale".write(toFile: target + "/base/stale-file", atomically: true, encoding: .utf8)

            let refused = try setup.lifeboat(["restore", "--to", target, "--no-archive"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("is not empty"))

            let delta = try json(try setup.lifeboat(["restore", "--backup", try #require(second["id"] as? String),
                                                     "--to", target, "--delta", "--no-archive", "--json"] + owner))
            let written = try #require(delta["bytes"] as? Int)
            let reused = try #require(delta["reused_bytes"] as? Int)
            #expect(reused > 10 * written, "written \(written), reused \(reused)")
            #expect(!FileManager.default.fileExists(atPath: target + "/base/stale-file"))

            let restored = try PostgresCluster.start(existing: scratch, options: "-c archive_mode=off")
            defer { restored.stop() }
            let check = try restored.connect()
            #expect(try check.query("SELECT count(*) FROM t").scalar == "200001")
            #expect(try check.query("SELECT v FROM t WHERE g = -1").scalar == "second backup")
        }
    }

    @Test("a tablespace is backed up and restored to another location with --tablespace")
    func tablespace() async throws {
        let setup = try ArchivingSetup()
        let location = setup.bench.folder.file("tablespace")
        try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
        try PostgresCluster.shareWithServer(location)
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLESPACE elsewhere LOCATION '\(location)'")
            try db.query("CREATE TABLE far TABLESPACE elsewhere AS SELECT g FROM generate_series(1, 50000) g")
            let oid = try #require(try db.query("SELECT oid FROM pg_tablespace WHERE spcname = 'elsewhere'").scalar)
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            let info = try json(try setup.lifeboat(["backup", "info", "latest", "--json"]))
            #expect((info["logical_bytes"] as? Int ?? 0) > 1_000_000)

            let moved = setup.bench.folder.file("tablespace-restored")
            let restored = try await setup.restoreAndStart(["--tablespace", "\(oid)=\(moved)", "--no-archive"])
            defer { restored.stop() }
            let check = try restored.connect()
            #expect(try check.query("SELECT count(*) FROM far").scalar == "50000")
            #expect(try check.query("SELECT pg_tablespace_location(\(oid))").scalar == moved)
            let files = FileManager.default.enumerator(atPath: moved)?.allObjects.count ?? 0
            #expect(files > 2)
        }
    }
}

@Suite("Local backups that read the data directory", .serialized)
struct LocalBackupTests {
    @Test("a local backup restores exactly; an unchanged one reuses files without reading them")
    func localRoundTrip() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            try pgbench(source, scale: 3)
            let db = try source.connect()
            try db.query("CHECKPOINT")
            let first = try json(try setup.lifeboat(["backup", "--mode", "local", "--conninfo", source.conninfo(), "--json"]))
            // Everything is read the first time (backup_label comes from pg_backup_stop, not from disk).
            #expect((first["logical_bytes"] as? Int ?? 0) - (first["read_bytes"] as? Int ?? 0) < 4096)
            try db.query("UPDATE pgbench_branches SET bbalance = bbalance + 7 WHERE bid = 1")
            try db.query("CHECKPOINT")
            try await Task.sleep(for: .milliseconds(50))
            let second = try json(try setup.lifeboat(["backup", "--mode", "local", "--conninfo", source.conninfo(), "--json"]))
            let read = try #require(second["read_bytes"] as? Int)
            let logical = try #require(second["logical_bytes"] as? Int)
            #expect(read * 5 < logical, "read \(read) of \(logical) bytes")
            let expected = try db.query("SELECT sum(abalance)::text || '/' || (SELECT bbalance FROM pgbench_branches WHERE bid = 1) FROM pgbench_accounts").scalar

            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)
            let restored = try await setup.restoreAndStart(["--backup", try #require(second["id"] as? String), "--target", "immediate"])
            defer { restored.stop() }
            let check = try restored.connect()
            #expect(try check.query("SELECT sum(abalance)::text || '/' || (SELECT bbalance FROM pgbench_branches WHERE bid = 1) FROM pgbench_accounts").scalar == expected)
            #expect(try check.query("SELECT count(*) FROM pgbench_accounts").scalar == "300000")
        }
    }

    @Test("local mode: a linked pg_wal is backed up as a folder, other links stay links, pg_control is read last; an unreadable folder or lost index is never skipped")
    func localEdgeCases() async throws {
        let setup = try ArchivingSetup()
        let location = setup.bench.folder.file("tablespace")
        try FileManager.default.createDirectory(atPath: location + "/lost+found", withIntermediateDirectories: true)
        _ = try setup.bench.folder.write("tablespace/lost+found/fragment", "not PostgreSQL's")
        try PostgresCluster.shareWithServer(location)
        try await PostgresCluster.with(settings: setup.serverSettings, separateWAL: true) { source in
            let db = try source.connect()
            try db.query("CREATE TABLESPACE elsewhere LOCATION '\(location)'")
            try db.query("CREATE TABLE spaced TABLESPACE elsewhere AS SELECT g FROM generate_series(1, 500) g")
            try db.query("CREATE TABLE t AS SELECT g, md5(g::text) AS v FROM generate_series(1, 20000) g")
            try db.query("CHECKPOINT")
            let pgdata = try #require(try db.query("SHOW data_directory").scalar)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: pgdata + "/pg_wal").hasSuffix("waldir"))
            try FileManager.default.createSymbolicLink(atPath: pgdata + "/linked-note", withDestinationPath: "/etc/hostname")
            let backup = try json(try setup.lifeboat(["backup", "--mode", "local", "--conninfo", source.conninfo(), "--json"]))
            let id = try #require(backup["id"] as? String)
            let opened = try BackupRepository.open(at: setup.repo, credential: .keyFile(setup.keyFile))
            let files = try opened.manifest(id).files
            #expect(files.first { $0.path == "pg_wal" }?.kind == "directory")
            #expect(files.first { $0.path == "pg_wal/archive_status" }?.kind == "directory")
            #expect(files.first { $0.path == "linked-note" }.map { $0.kind == "symlink" && $0.link == "/etc/hostname" } == true)
            let regular = files.filter { $0.kind == "file" && $0.archive == "base" }.map(\.path)
                .filter { $0 != "backup_label" && $0 != "tablespace_map" }
            #expect(regular.last == "global/pg_control", "read last: \(regular.suffix(3))")
            // Of the tablespace, only this server's version folder.
            let spaced = files.filter { $0.archive != "base" }
            #expect(!spaced.isEmpty && spaced.allSatisfy { $0.path.hasPrefix("PG_15_") }, "\(spaced.map(\.path).prefix(5))")

            let oid = try #require(try db.query("SELECT oid::text FROM pg_tablespace WHERE spcname = 'elsewhere'").scalar)
            let moved = setup.bench.folder.file("moved-tablespace")
            let restored = try await setup.restoreAndStart(["--backup", id, "--target", "immediate", "--tablespace", "\(oid)=\(moved)"])
            defer { restored.stop() }
            #expect(try restored.connect().query("SELECT count(*) FROM t").scalar == "20000")
            #expect(try restored.connect().query("SELECT count(*) FROM spaced").scalar == "500")
            let restoredData = try #require(try restored.connect().query("SHOW data_directory").scalar)
            var info = stat()
            #expect(lstat(restoredData + "/pg_wal", &info) == 0 && info.st_mode & S_IFMT == S_IFDIR)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: restoredData + "/linked-note") == "/etc/hostname")

            // A folder the backup cannot read stops it (run as the server's user, for whom permissions apply).
            if geteuid() == 0 {
                let hidden = pgdata + "/unreadable"
                #expect(try ProcessRunner.run("/usr/sbin/runuser", ["-u", "postgres", "--", "mkdir", "-m", "000", hidden]).status == 0)
                let failed = try ProcessRunner.run("/usr/sbin/runuser", ["-u", "postgres", "--", setup.bench.cli.binary, "backup",
                    "--mode", "local", "--conninfo", source.conninfo(), "--repo", setup.repo, "--key-file", setup.keyFile],
                    environment: setup.bench.cli.environment)
                #expect(failed.status != 0, "a backup skipped an unreadable folder")
                #expect(failed.stderr.contains("cannot read the folder \(hidden)"), "\(failed.stderr)")
                try FileManager.default.removeItem(atPath: hidden)
                #expect(try jsonList(try setup.lifeboat(["backup", "list", "--json"])).count == 1)
            }

            // The index lost: unchanged files whose chunks it no longer lists are read again, not reused.
            for name in indexFiles(setup.repo) { try FileManager.default.removeItem(atPath: setup.repo + "/index/" + name) }
            let second = try json(try setup.lifeboat(["backup", "--mode", "local", "--conninfo", source.conninfo(), "--json"]))
            #expect((second["logical_bytes"] as? Int ?? 0) - (second["read_bytes"] as? Int ?? 0) < 4096, "\(second)")
            #expect(try setup.lifeboat(["repo", "gc"]).status == 0)
            let third = try json(try setup.lifeboat(["backup", "--mode", "local", "--conninfo", source.conninfo(), "--json"]))
            #expect((third["read_bytes"] as? Int ?? 0) * 5 < (third["logical_bytes"] as? Int ?? 0), "\(third)")
            let full = try json(try setup.lifeboat(["backup", "--mode", "local", "--full-read", "--conninfo", source.conninfo(), "--json"]))
            #expect((full["logical_bytes"] as? Int ?? 0) - (full["read_bytes"] as? Int ?? 0) < 4096, "\(full)")
            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)
        }
    }
}
