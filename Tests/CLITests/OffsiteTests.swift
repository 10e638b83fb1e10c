import Foundation
import Postgres
@testable import Repository
import TestSupport
import Testing

/// A bench whose `lifeboat` reaches the test S3 server with a shared credentials file that the PostgreSQL server's
/// user can read too (its archive_command and restore_command run without this process's environment).
struct S3Bench {
    let bench: CLIBench
    let server: S3Server
    let credentials: String

    init(environment extra: [String: String] = [:]) async throws {
        server = try await S3Server.shared()
        let folder = try TemporaryDirectory(prefix: "lifeboat-s3creds")
        credentials = try folder.write("credentials", "[default]\naws_access_key_id = \(S3Server.environment["AWS_ACCESS_KEY_ID"]!)\n"
            + "aws_secret_access_key = \(S3Server.environment["AWS_SECRET_ACCESS_KEY"]!)\n")
        try PostgresCluster.shareWithServer(folder.path)
        bench = try CLIBench(environment: ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_ACCESS_KEY_ID": "",
                                           "AWS_SECRET_ACCESS_KEY": ""].merging(extra) { $1 })
    }

    /// Opens a location directly (not through any proxy) for inspecting or damaging objects.
    func directStore(_ location: String) throws -> S3Store {
        let path = location.split(separator: "?")[0]
        return try S3Store(location: "\(path)?endpoint=\(server.endpoint)", environment: S3Server.environment)
    }
}

@Suite("Offsite repositories: S3-compatible storage and repository copies", .serialized)
struct OffsiteTests {
    @Test("a repository on S3 behind a failing network: archiving, backup, restore, verify, expire and gc all work; damage is named")
    func s3UnderFaults() async throws {
        let s3 = try await S3Bench()
        let proxy = try await FaultProxy(upstream: s3.server, actions: [
            "ok", "ok", "500", "ok", "slowdown", "ok", "truncate", "ok", "ok", "drop", "ok", "short", "ok", "lost-reply", "ok", "503",
        ])
        let repo = s3.server.location("prod/db", through: proxy)
        // The same repository without the proxy, for the slower maintenance commands (every chunk read once).
        let directRepo = repo.replacingOccurrences(of: proxy.endpoint, with: s3.server.endpoint)
        let passphrase = try s3.bench.folder.write("passphrase", "s3 passphrase")
        #expect(try s3.bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase]).status == 0)
        let keyFile = s3.bench.folder.file("repo.key")
        let exported = try s3.bench.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase, "--to", keyFile])
        #expect(exported.status == 0, "\(exported.stderr)")
        try PostgresCluster.shareWithServer(keyFile)
        let wrong = try s3.bench.folder.write("wrong", "not it")
        let refused = try s3.bench.run(["backup", "list", "--repo", repo, "--passphrase-file", wrong])
        #expect(refused.status == 12 && refused.stderr.contains("wrong passphrase"), "\(refused.stderr)")

        func lifeboat(_ arguments: [String], direct: Bool = false) throws -> ProcessResult {
            try s3.bench.run(arguments + ["--repo", direct ? directRepo : repo, "--key-file", keyFile])
        }
        let archive = "AWS_SHARED_CREDENTIALS_FILE=\(s3.credentials) \(s3.bench.cli.binary) wal push %p --repo '\(repo)' --key-file \(keyFile)"
        try await PostgresCluster.with(settings: "archive_mode = on\narchive_command = '\(archive.replacingOccurrences(of: "'", with: "''"))'\n") { source in
            let db = try source.connect()
            try db.query("CREATE TABLE orders (id int PRIMARY KEY, note text)")
            try db.query("INSERT INTO orders SELECT g, repeat(md5(g::text), 20) FROM generate_series(1, 20000) g")
            let backup = try lifeboat(["backup", "--conninfo", source.conninfo(), "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            #expect(try json(backup)["wal_included"] as? Bool == false)
            try db.query("INSERT INTO orders VALUES (20001, 'after the backup')")
            try await waitForArchive(db)

            let scratch = try TemporaryDirectory(prefix: "lifeboat-restored")
            var arguments = ["restore", "--to", scratch.file("pgdata"), "--backup", "latest"]
            if geteuid() == 0 { arguments += ["--owner", "postgres"] }
            let restored = try lifeboat(arguments)
            #expect(restored.status == 0, "\(restored.stderr)")
            let cluster = try PostgresCluster.start(existing: scratch, options: "-c archive_mode=off")
            defer { cluster.stop() }
            let connection = try cluster.connect()
            let promoted = await eventually(60) { (try? connection.query("SELECT pg_is_in_recovery()").scalar) == "f" }
            #expect(promoted, "recovery did not finish:\n\(cluster.serverLog)")
            #expect(try dumpAll(cluster) == dumpAll(source))

            let verified = try lifeboat(["verify", "--read-data"], direct: true)
            #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
            let second = try lifeboat(["backup", "--conninfo", source.conninfo(), "--mode", "local"])
            #expect(second.status == 0, "\(second.stderr)")
            let expired = try lifeboat(["repo", "expire", "--keep-last", "1", "--json"], direct: true)
            #expect(expired.status == 0, "\(expired.stderr)")
            #expect((try json(expired)["removed"] as? [String])?.count == 1)
            let collected = try lifeboat(["repo", "gc"])  // through the failing network
            #expect(collected.status == 0, "\(collected.stderr)")
            let final = try lifeboat(["verify", "--read-data"], direct: true)
            #expect(final.status == 0, "\(final.stdout)\(final.stderr)")
        }
        let counts = proxy.counts
        #expect(["500", "slowdown", "drop", "lost-reply", "503"].allSatisfy { (counts[$0] ?? 0) > 0 }, "\(counts)")

        // Damage one byte of a chunk in its pack, behind Lifeboat's back: verify names it and exits 3.
        let store = try s3.directStore(repo)
        let opened = try BackupRepository.open(store, credential: .keyFile(keyFile))
        let manifest = try opened.manifest(try #require(try opened.backupIds().last))
        let victim = try #require(manifest.files.first { $0.chunks.count > 2 }?.chunks[1])
        let location = try #require(try opened.chunkLocation(victim))
        var pack = try #require(try store.read(location.path))
        pack[location.offset + location.length / 2] ^= 0x20
        _ = try store.write(location.path, pack, mode: .replace)
        let damaged = try lifeboat(["verify", "--read-data"], direct: true)
        #expect(damaged.status == 3, "\(damaged.stdout)\(damaged.stderr)")
        #expect((damaged.stdout + damaged.stderr).contains(victim))
    }

    @Test("repo copy: local to S3 under another passphrase re-encrypts, copies only what is new, and restores; a replica gets objects as stored; the repository.copy step")
    func copies() async throws {
        let s3 = try await S3Bench(environment: ["LOCAL_PASS": "local passphrase", "OFFSITE_PASS": "offsite passphrase",
                                                 "S3_SECRET": S3Server.environment["AWS_SECRET_ACCESS_KEY"]!])
        let bench = s3.bench
        let localPass = try bench.folder.write("local-pass", "local passphrase")
        let offsitePass = try bench.folder.write("offsite-pass", "offsite passphrase")
        let local = bench.folder.file("local")
        let offsite = s3.server.location("offsite")
        #expect(try bench.run(["repo", "init", "--repo", local, "--passphrase-file", localPass]).status == 0)
        #expect(try bench.run(["repo", "init", "--repo", offsite, "--passphrase-file", offsitePass]).status == 0)
        let from = ["--from", local, "--from-passphrase-file", localPass]
        let to = ["--to", offsite, "--to-passphrase-file", offsitePass]

        try await PostgresCluster.with { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t (id int, note text)")
            try db.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 50000) g")
            #expect(try bench.run(["backup", "--conninfo", source.conninfo(), "--repo", local, "--passphrase-file", localPass]).status == 0)

            let first = try bench.run(["repo", "copy"] + from + to + ["--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let firstReport = try json(first)
            #expect((firstReport["backups_copied"] as? [String])?.count == 1)
            #expect(firstReport["reencrypted"] as? Bool == true)
            let firstChunks = firstReport["chunks_copied"] as? Int ?? 0
            #expect(firstChunks > 10)

            try db.query("INSERT INTO t VALUES (50001, 'second backup')")
            try bench.plan("drill-inventory.yaml", """
                databases:
                  shop: { host: \(source.socketDirectory), port: \(source.port), user: postgres, dbname: postgres }
                repositories:
                  offsite: { location: "\(offsite)", passphrase: "${env:OFFSITE_PASS}" }
                """)
            let beat = try bench.plan("beat.yaml", """
                plan: beat
                kind: backup
                inventory: drill-inventory.yaml
                steps:
                  - { id: beat, uses: postgres.heartbeat, with: { database: shop } }
                """)
            #expect(try bench.run(["run", beat]).status == 0)
            #expect(try bench.run(["backup", "--conninfo", source.conninfo(), "--repo", local, "--passphrase-file", localPass]).status == 0)
            let second = try json(try bench.run(["repo", "copy"] + from + to + ["--json"]))
            #expect((second["backups_copied"] as? [String])?.count == 1 && second["backups_present"] as? Int == 1)
            #expect((second["chunks_copied"] as? Int ?? .max) * 5 < firstChunks, "\(second)")
            let again = try json(try bench.run(["repo", "copy"] + from + to + ["--json"]))
            #expect((again["backups_copied"] as? [String])?.isEmpty == true && again["chunks_copied"] as? Int == 0)

            // The offsite copy restores on its own, with its own passphrase.
            let scratch = try TemporaryDirectory(prefix: "lifeboat-restored")
            var arguments = ["restore", "--repo", offsite, "--passphrase-file", offsitePass, "--to", scratch.file("pgdata"),
                             "--no-archive"]
            if geteuid() == 0 { arguments += ["--owner", "postgres"] }
            let restored = try bench.run(arguments)
            #expect(restored.status == 0, "\(restored.stderr)")
            let cluster = try PostgresCluster.start(existing: scratch, options: "-c archive_mode=off")
            defer { cluster.stop() }
            let connection = try cluster.connect()
            let promoted = await eventually(60) { (try? connection.query("SELECT pg_is_in_recovery()").scalar) == "f" }
            #expect(promoted, "recovery did not finish:\n\(cluster.serverLog)")
            #expect(try connection.query("SELECT note FROM t WHERE id = 50001").scalar == "second backup")
            #expect(try bench.run(["verify", "--read-data", "--repo", offsite, "--passphrase-file", offsitePass]).status == 0)

            // A drill from the offsite copy: the scratch server's restore_command reaches the bucket on its own.
            let scratch2 = bench.folder.file("scratch")
            try FileManager.default.createDirectory(atPath: scratch2, withIntermediateDirectories: true)
            let drill = try bench.plan("drill.yaml", """
                plan: offsite-drill
                kind: drill
                inventory: drill-inventory.yaml
                targets: { rpo: 1h, rto: 4h }
                steps:
                  - id: restore
                    uses: postgres.restore
                    with: { database: shop, repository: offsite, directory: \(scratch2), target: latest }
                  - id: check
                    uses: postgres.check
                    needs: restore
                    with:
                      checks:
                        - { name: second backup there, sql: "SELECT count(*) FROM t WHERE id = 50001", equals: "1" }
                """)
            let drilled = try bench.run(["run", drill])
            #expect(drilled.status == 0, "\(drilled.stdout)\(drilled.stderr)")
            #expect(drilled.stdout.contains("drill PASSED"), "\(drilled.stdout)")
        }

        // A replica shares the key under its own passphrase: objects move as stored.
        let replica = s3.server.location("replica")
        let replicaPass = try bench.folder.write("replica-pass", "replica passphrase")
        let made = try bench.run(["repo", "init", "--repo", replica, "--passphrase-file", replicaPass, "--replica-of", local,
                                  "--from-passphrase-file", localPass])
        #expect(made.status == 0, "\(made.stderr)")
        let copied = try json(try bench.run(["repo", "copy"] + from + ["--to", replica, "--to-passphrase-file", replicaPass, "--json"]))
        #expect(copied["reencrypted"] as? Bool == false && (copied["backups_copied"] as? [String])?.count == 2)
        #expect(try bench.run(["verify", "--read-data", "--repo", replica, "--passphrase-file", replicaPass]).status == 0)
        #expect(try bench.run(["backup", "list", "--repo", replica, "--passphrase-file", localPass]).status == 12)

        // The plan step, with the offsite repository's S3 settings and secret in the inventory.
        let endpoint = s3.server.endpoint
        let bucketPath = String(s3.server.location("step").split(separator: "?")[0])
        #expect(try bench.run(["repo", "init", "--repo", bucketPath + "?endpoint=\(endpoint)", "--passphrase-file", offsitePass]).status == 0)
        try bench.plan("lifeboat.yaml", """
            repositories:
              local: { location: \(local), passphrase: "${env:LOCAL_PASS}" }
              offsite:
                location: \(bucketPath)
                passphrase: "${env:OFFSITE_PASS}"
                s3: { endpoint: "\(endpoint)", access_key_id: \(S3Server.environment["AWS_ACCESS_KEY_ID"]!), secret_access_key: "${env:S3_SECRET}" }
            """)
        let plan = try bench.plan("offsite.yaml", """
            plan: offsite
            kind: backup
            inventory: lifeboat.yaml
            steps:
              - id: copy
                uses: repository.copy
                with: { from: local, to: offsite }
            """)
        let ran = try bench.run(["run", plan])
        #expect(ran.status == 0, "\(ran.stdout)\(ran.stderr)")
        let runId = try #require(try bench.runs().first?["id"] as? String)
        let shown = try bench.run(["runs", "show", runId])
        #expect(shown.stdout.contains("copied 2 backups to offsite"), "\(shown.stdout)")
        let listed = try bench.run(["backup", "list", "--repo", bucketPath + "?endpoint=\(endpoint)", "--passphrase-file", offsitePass,
                                    "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.count == 2, "\(listed.stderr)")
        let secret = S3Server.environment["AWS_SECRET_ACCESS_KEY"]!
        #expect(!(ran.stdout + ran.stderr + shown.stdout).contains(secret))
        let log = try String(contentsOfFile: bench.folder.file("state/logs/\(runId).log"), encoding: .utf8)
        #expect(!log.contains(secret) && log.contains("copied 2 backups"))
    }
}
