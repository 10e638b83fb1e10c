import Foundation
import Repository
import TestSupport
import Testing

/// The exit codes the README documents, for the cases that once got another one.
@Suite("exit codes as documented")
struct ExitCodeTests {
    @Test("gc and expire while a backup holds the lock: 11; a bad backup id, target time or LSN: 2; a damaged config: 3; a file as repository: 10")
    func codes() throws {
        let bench = try CLIBench()
        let passphrase = try bench.folder.write("passphrase", "exit codes\n")
        let repo = bench.folder.file("repo")
        #expect(try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase]).status == 0)
        func lifeboat(_ arguments: [String]) throws -> ProcessResult {
            try bench.run(arguments + ["--repo", repo, "--passphrase-file", passphrase])
        }

        do {
            // A backup's shared lock, held by this process.
            let opened = try BackupRepository.open(at: repo, credential: .passphrase(Array("exit codes".utf8)))
            let lock = try RepositoryLock.acquire(opened, .shared, timeout: 0)
            defer { withExtendedLifetime(lock) {} }
            for arguments in [["repo", "gc"], ["repo", "expire", "--keep-last", "1"]] {
                let result = try lifeboat(arguments)
                #expect(result.status == 11, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains("in use by a backup"), "\(result.stderr)")
            }
        }
        #expect(try lifeboat(["repo", "gc"]).status == 0)

        let unknown = try lifeboat(["verify", "--backup", "nope"])
        #expect(unknown.status == 2 && unknown.stderr.contains("no backup nope"), "\(unknown.stderr)")
        for target in [["--target-time", "yesterday-ish"], ["--target-lsn", "zz/12"]] {
            let result = try lifeboat(["restore", "--to", bench.folder.file("out")] + target)
            #expect(result.status == 2, "\(target): \(result.stderr)")
            #expect(result.stderr.contains("cannot read"))
        }

        let file = try bench.folder.write("plain-file", "not a repository")
        let notFolder = try bench.run(["backup", "list", "--repo", file, "--passphrase-file", passphrase])
        #expect(notFolder.status == 10, "\(notFolder.stderr)")
        #expect(notFolder.stderr.contains("is a file, not a folder"))

        // A FIFO as key file is refused at once (an archive_command must never hang on it).
        let fifo = bench.folder.file("fifo.key")
        #expect(mkfifo(fifo, 0o600) == 0)
        let piped = try bench.run(["backup", "list", "--repo", repo, "--key-file", fifo])
        #expect(piped.status == 2 && piped.stderr.contains("not a regular file"), "\(piped.stderr)")

        let config = repo + "/config"
        let original = try String(contentsOfFile: config, encoding: .utf8)
        for (from, to) in [("\"chunk_size\" : 131072", "\"chunk_size\" : 0"), ("\"chunk_size\" : 131072", "\"chunk_size\" : -1"),
                           ("\"chunk_size\" : 131072", "\"chunk_size\" : 1099511627776")] {
            #expect(original.contains(from))
            try original.replacingOccurrences(of: from, with: to).write(toFile: config, atomically: true, encoding: .utf8)
            let impossible = try lifeboat(["verify"])
            #expect(impossible.status == 3 && impossible.stderr.contains("config is damaged"), "\(to): \(impossible.stderr)")
        }
        try original.write(toFile: config, atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try String(text.prefix(text.count / 2)).write(toFile: config, atomically: true, encoding: .utf8)
        let damaged = try lifeboat(["backup", "list"])
        #expect(damaged.status == 3, "\(damaged.stderr)")
        #expect(damaged.stderr.contains("config is damaged"), "\(damaged.stderr)")
        #expect(!damaged.stderr.contains("DecodingError") && !damaged.stderr.contains("dataCorrupted"))
    }

    @Test("relative paths mean the current directory: repo init, key export and key check with bare and ./ names")
    func relativePaths() throws {
        let bench = try CLIBench()
        let passphrase = try bench.folder.write("passphrase", "relative\n")
        let work = bench.folder.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        for (repo, key) in [("bare-repo", "bare.key"), ("./dotted-repo", "./dotted.key")] {
            let created = try bench.cli.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase], directory: work)
            #expect(created.status == 0, "\(created.stderr)")
            let folder = work + "/" + repo.replacingOccurrences(of: "./", with: "")
            #expect(FileManager.default.fileExists(atPath: folder + "/config"))
            let exported = try bench.cli.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase,
                                              "--to", key], directory: work)
            #expect(exported.status == 0, "\(exported.stderr)")
            let keyPath = work + "/" + key.replacingOccurrences(of: "./", with: "")
            #expect(FileManager.default.fileExists(atPath: keyPath))
            #expect(exported.stdout.contains(keyPath), "\(exported.stdout)")
            #expect(!FileManager.default.fileExists(atPath: "/" + key.replacingOccurrences(of: "./", with: "")))
            let listed = try bench.cli.run(["backup", "list", "--repo", repo, "--key-file", key], directory: work)
            #expect(listed.status == 0, "\(listed.stderr)")
        }
    }
}
