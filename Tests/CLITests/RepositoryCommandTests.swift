import Foundation
import TestSupport
import Testing

@Suite("lifeboat repo and wal commands")
struct RepositoryCommandTests {
    /// A bench with a passphrase file and a fresh repository.
    func makeRepository(_ bench: CLIBench) throws -> (repo: String, passphrase: String) {
        let passphrase = try bench.folder.write("passphrase", "correct horse battery staple\n")
        let repo = bench.folder.file("repo")
        let created = try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout.hasPrefix("created repository "))
        return (repo, passphrase)
    }

    @Test("init, key add/list/remove, and the exit codes for a missing repository and a wrong passphrase")
    func keys() throws {
        let bench = try CLIBench()
        let (repo, passphrase) = try makeRepository(bench)
        let second = try bench.folder.write("second", "another passphrase")
        let added = try bench.run(["repo", "key", "add", "--repo", repo, "--passphrase-file", passphrase,
                                   "--new-passphrase-file", second, "--label", "night shift"])
        #expect(added.status == 0, "\(added.stderr)")
        let newId = try #require(added.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })

        var cli = bench.cli
        cli.environment["LIFEBOAT_PASSPHRASE"] = "another passphrase"
        let listed = try cli.run(["repo", "key", "list", "--repo", repo, "--json"])
        #expect(listed.status == 0)
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        #expect(keys.count == 2)
        #expect(keys.first { $0["id"] as? String == newId }?["current"] as? Bool == true)
        #expect(keys.first { $0["id"] as? String == newId }?["label"] as? String == "night shift")
        let oldId = try #require(keys.first { $0["id"] as? String != newId }?["id"] as? String)

        #expect(try cli.run(["repo", "key", "remove", "--repo", repo, oldId]).status == 0)
        let last = try cli.run(["repo", "key", "remove", "--repo", repo, newId])
        #expect(last.status == 2)
        #expect(last.stderr.contains("last key"))

        let before = (FileManager.default.enumerator(atPath: repo)?.allObjects as? [String] ?? []).sorted()
        let wrong = try bench.run(["repo", "key", "list", "--repo", repo, "--passphrase-file", passphrase])
        #expect(wrong.status == 12)
        #expect(wrong.stderr.contains("wrong passphrase"))
        #expect((FileManager.default.enumerator(atPath: repo)?.allObjects as? [String] ?? []).sorted() == before)

        let missing = try cli.run(["repo", "key", "list", "--repo", bench.folder.file("nowhere")])
        #expect(missing.status == 10)
        #expect(missing.stderr.contains("no Lifeboat repository at"))
        let noPassphrase = try bench.run(["repo", "key", "list", "--repo", repo])
        #expect(noPassphrase.status == 2)
        #expect(noPassphrase.stderr.contains("no passphrase given"))
    }

    @Test("PostgreSQL archives into the repository through wal push; wal fetch brings segments back")
    func archiveCommand() async throws {
        let bench = try CLIBench()
        let (repo, passphrase) = try makeRepository(bench)
        let keyFile = bench.folder.file("repo.key")
        let exported = try bench.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase, "--to", keyFile])
        #expect(exported.status == 0, "\(exported.stderr)")
        try PostgresCluster.shareWithServer(repo)
        try PostgresCluster.shareWithServer(keyFile)
        let archive = "'\(bench.cli.binary) wal push %p --repo \(repo) --key-file \(keyFile)'"

        try await PostgresCluster.with(settings: "archive_mode = on\narchive_command = \(archive)\n") { cluster in
            let connection = try cluster.connect()
            try connection.query("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g")
            var switched: [String] = []
            for _ in 0..<3 {
                let name = try connection.query("SELECT pg_walfile_name(pg_switch_wal())").scalar ?? ""
                switched.append(name)
                try connection.query("INSERT INTO t VALUES (0, 'x')")
            }
            let archived = await eventually(30) {
                let count = (try? connection.query("SELECT archived_count FROM pg_stat_archiver").scalar).flatMap { $0 }
                return Int(count ?? "0") ?? 0 >= 3
            }
            #expect(archived)
            #expect(try connection.query("SELECT failed_count FROM pg_stat_archiver").scalar == "0")

            let segment = try #require(switched.first)
            let target = bench.folder.file("fetched/" + segment)
            try FileManager.default.createDirectory(atPath: bench.folder.file("fetched"), withIntermediateDirectories: true)
            let fetch = try bench.run(["wal", "fetch", segment, target, "--repo", repo, "--key-file", keyFile])
            #expect(fetch.status == 0, "\(fetch.stderr)")
            let size = try FileManager.default.attributesOfItem(atPath: target)[.size] as? Int
            #expect(size == 16 << 20)

            // The same content again is fine; different content under that name is refused and not stored.
            #expect(try bench.run(["wal", "push", target, "--repo", repo, "--key-file", keyFile]).status == 0)
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: target))
            try handle.seek(toOffset: 4096)
            try handle.write(contentsOf: Data([0xde, 0xad]))
            try handle.close()
            let conflict = try bench.run(["wal", "push", target, "--repo", repo, "--key-file", keyFile])
            #expect(conflict.status == 1)
            #expect(conflict.stderr.contains("already archived with different content"))
            let again = bench.folder.file("again")
            #expect(try bench.run(["wal", "fetch", segment, again, "--repo", repo, "--key-file", keyFile]).status == 0)
            #expect(FileManager.default.contents(atPath: again) != FileManager.default.contents(atPath: target))

            // Absent: exit 1 and quiet, so recovery ends there. Unreadable archive: 255, so recovery stops.
            let absent = try bench.run(["wal", "fetch", "0000000100000099000000FF", again, "--repo", repo, "--key-file", keyFile])
            #expect(absent.status == 1)
            #expect(absent.stderr.isEmpty)
            let noKey = try bench.run(["wal", "fetch", segment, again, "--repo", repo, "--key-file", bench.folder.file("none")])
            #expect(noKey.status == 255)
        }
    }
}
