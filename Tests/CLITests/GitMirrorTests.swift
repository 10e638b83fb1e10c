import Foundation
import Repository
import TestSupport
import Testing

@Suite("git.mirror and git.verify in plans; git status and git restore", .serialized)
struct GitMirrorTests {
    @Test("mirrors through a plan: an unreachable mirror fails alone, force-pushes are preserved, verify and restore work")
    func mirrorPlan() async throws {
        let fixture = try GitFixture()
        try fixture.commit("a.txt", "one")
        try fixture.push(["origin", "main"])
        try fixture.git(["tag", "v1"], in: fixture.work)
        try fixture.push(["origin", "v1"])

        let token = "tok-\(UUID().uuidString)"
        let bench = try CLIBench(environment: ["MIRROR_TOKEN": token])
        let passphrase = try bench.folder.write("passphrase", "git bundles")
        let repo = bench.folder.file("repo"), keyFile = bench.folder.file("repo.key")
        #expect(try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase]).status == 0)
        #expect(try bench.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase, "--to", keyFile]).status == 0)

        let local = try fixture.bare("local.git")
        let base = fixture.folder.file("served")
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try fixture.git(["init", "--bare", "--quiet", base + "/daemon.git"])
        let (daemonURL, daemon) = try await fixture.daemon(base: base)
        defer {
            daemon.signal(SIGTERM)
            _ = daemon.wait()
        }
        let closed = try PostgresCluster.freePort()
        func inventory(unreachable: Bool) throws {
            let mirrors = [local, daemonURL + "daemon.git"]
                + (unreachable ? ["https://ci:${env:MIRROR_TOKEN}@127.0.0.1:\(closed)/gone.git"] : [])
            try bench.plan("lifeboat.yaml", """
                repositories:
                  primary: { location: \(repo), key_file: \(keyFile) }
                git:
                  app:
                    source: \(fixture.source)
                    mirrors: [\(mirrors.map { "\"\($0)\"" }.joined(separator: ", "))]
                    repository: primary
                """)
        }
        try inventory(unreachable: true)
        let mirrorPlan = try bench.plan("mirror.yaml", """
            plan: mirrors
            kind: backup
            steps:
              - { id: mirror, uses: git.mirror, with: { source_retries: 0 } }
            """)
        let verifyPlan = try bench.plan("verify.yaml", """
            plan: mirror-drill
            kind: drill
            targets: { rpo: 1h }
            steps:
              - { id: verify, uses: git.verify }
            """)

        // The unreachable mirror fails the step; the others are synced; the token appears nowhere.
        let first = try bench.run(["run", mirrorPlan])
        #expect(first.status == 1)
        #expect(first.stderr.contains("1 mirror problem: app → https://***@127.0.0.1:\(closed)/gone.git"), "\(first.stderr)")
        #expect(try fixture.refs(local) == fixture.refs(fixture.source))
        #expect(try fixture.refs(base + "/daemon.git") == fixture.refs(fixture.source))
        let status = try bench.run(["git", "status", "--json"])
        #expect(status.status == 1)
        let rows = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(rows.count == 3)
        #expect(rows.filter { $0["state"] as? String == "ok" }.count == 2)
        let shown = try bench.run(["runs", "show", "--json", (try bench.runs().first?["id"] as? String) ?? ""])
        for text in [first.stdout, first.stderr, status.stdout, shown.stdout, bench.read("state/catalog.sqlite")] {
            #expect(!text.contains(token))
        }

        // Without it, everything succeeds; a force-push upstream keeps the old tip on both mirrors.
        try inventory(unreachable: false)
        #expect(try bench.run(["run", mirrorPlan]).status == 0)
        let oldTip = try fixture.commit("b.txt", "two")
        try fixture.push(["origin", "main"])
        #expect(try bench.run(["run", mirrorPlan]).status == 0)
        try fixture.git(["reset", "--hard", "--quiet", "HEAD~1"], in: fixture.work)
        try fixture.commit("c.txt", "rewritten")
        try fixture.push(["--force", "origin", "main"])
        let forced = try bench.run(["run", mirrorPlan, "--verbose"])
        #expect(forced.status == 0, "\(forced.stderr)")
        for mirror in [local, base + "/daemon.git"] {
            let refs = try fixture.refs(mirror, all: true)
            #expect(refs.contains { $0.key.hasPrefix("refs/lifeboat/preserved/") && $0.value == oldTip })
            #expect(refs.filter { !$0.key.hasPrefix("refs/lifeboat/") } == (try fixture.refs(fixture.source)))
        }
        let afterForce = try JSONSerialization.jsonObject(with: Data(try bench.run(["git", "status", "--json"]).stdout.utf8))
            as? [[String: Any]] ?? []
        let current = afterForce.filter { !($0["destination"] as? String ?? "").contains("gone.git") }
        #expect(current.count == 2)
        #expect(current.allSatisfy { ($0["preserved_refs"] as? Int) == 1 && $0["state"] as? String == "ok" }, "\(afterForce)")

        // The drill's git.verify: both mirrors in sync and fresh; then one is tampered with.
        let verified = try bench.run(["run", verifyPlan, "--verbose"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let forged = try fixture.git(["rev-parse", "v1"], in: fixture.source).trimmingCharacters(in: .whitespacesAndNewlines)
        try fixture.git(["update-ref", "refs/heads/main", forged], in: local)
        let tampered = try bench.run(["run", verifyPlan])
        #expect(tampered.status == 4)
        #expect(tampered.stderr.contains("check 'mirror app → \(local)' failed"), "\(tampered.stderr)")
        let drills = try bench.run(["drills", "list", "--json"])
        #expect(drills.stdout.contains("\"verdict\" : \"fail\""))

        // The bundle in the repository brings the code back, every ref equal to the source's.
        let restored = fixture.folder.file("restored.git")
        let restore = try bench.run(["git", "restore", "app", "--to", restored, "--inventory", bench.folder.file("lifeboat.yaml")])
        #expect(restore.status == 0, "\(restore.stderr)")
        let restoredRefs = try fixture.refs(restored), sourceRefs = try fixture.refs(fixture.source)
        #expect(restoredRefs == sourceRefs, "\(restoredRefs) vs \(sourceRefs)")
        try fixture.git(["fsck", "--full", "--no-progress"], in: restored)

        // verify reads the bundles too, and names a damaged one.
        #expect(try bench.run(["verify", "--read-data", "--repo", repo, "--key-file", keyFile]).status == 0)
        let repository = try BackupRepository.open(at: repo, credential: .keyFile(keyFile))
        let bundle = try #require(try repository.bundles(source: "app").last)
        let location = try #require(try repository.chunkLocation(bundle.chunks[0]))
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: repo + "/" + location.path))
        try handle.seek(toOffset: UInt64(location.offset + location.length / 2))
        let byte = try #require(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: UInt64(location.offset + location.length / 2))
        try handle.write(contentsOf: [byte ^ 0x10])
        try handle.close()
        let damaged = try bench.run(["verify", "--read-data", "--repo", repo, "--key-file", keyFile])
        #expect(damaged.status == 3)
        #expect(damaged.stdout.contains("file git bundle \(bundle.id) of app: chunk \(bundle.chunks[0])"), "\(damaged.stdout)")

        // The status command lists the mirrors beside the databases.
        let overall = try bench.run(["status", "--inventory", bench.folder.file("lifeboat.yaml"), "--json"])
        let mirrors = (try JSONSerialization.jsonObject(with: Data(overall.stdout.utf8)) as? [String: Any])?["mirrors"] as? [[String: Any]]
        #expect(mirrors?.count == 2)
        #expect(mirrors?.allSatisfy { $0["within_targets"] as? Bool == true } == true)
    }
}
