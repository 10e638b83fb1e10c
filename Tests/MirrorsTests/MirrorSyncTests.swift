import Foundation
import Mirrors
import TestSupport
import Testing

@Suite("Mirroring with real git: history is never lost, mirrors are verified", .serialized)
struct MirrorSyncTests {
    @Test("mirrors follow the source; deleted and force-pushed tips are preserved on every mirror; verify agrees")
    func followsAndPreserves() async throws {
        let fixture = try GitFixture()
        let first = try fixture.commit("a.txt", "one")
        try fixture.push(["origin", "main"])
        try fixture.git(["tag", "v1"], in: fixture.work)
        try fixture.git(["branch", "feature"], in: fixture.work)
        try fixture.push(["origin", "v1", "feature"])

        let local = try fixture.bare("mirror-a.git")
        let served = try fixture.folder.write("served/.keep", "")
        let base = (served as NSString).deletingLastPathComponent
        _ = try fixture.git(["init", "--bare", "--quiet", base + "/mirror-b.git"])
        let (daemonURL, daemon) = try await fixture.daemon(base: base)
        defer {
            daemon.signal(SIGTERM)
            _ = daemon.wait()
        }
        let remote = daemonURL + "mirror-b.git"
        let source = MirrorSource(name: "app", url: fixture.source, destinations: [local, remote])
        let sync = MirrorSync(git: Git(), cacheRoot: fixture.folder.file("cache"))

        let initial = await sync.sync(source)
        #expect(initial.succeeded, "\(initial)")
        #expect(initial.refs == 3)
        #expect(try fixture.refs(local) == fixture.refs(fixture.source))
        #expect(try fixture.refs(base + "/mirror-b.git") == fixture.refs(fixture.source))

        // Upstream: a new commit, a new tag, a deleted branch, a force-push that drops a commit.
        try fixture.commit("b.txt", "two")
        let dropped = try fixture.commit("c.txt", "three")
        try fixture.push(["origin", "main"])
        try fixture.git(["reset", "--hard", "--quiet", first], in: fixture.work)
        try fixture.commit("d.txt", "rewritten")
        try fixture.push(["--force", "origin", "main"])
        try fixture.git(["tag", "v2"], in: fixture.work)
        try fixture.push(["origin", "v2", ":refs/heads/feature"])
        let afterPush = await sync.sync(source)
        #expect(afterPush.succeeded, "\(afterPush)")

        // The mirrors had `first` on main, an ancestor of the new main: nothing to preserve there (`dropped` lived
        // upstream only between two syncs). The deleted branch's tip is preserved.
        for mirror in [local, base + "/mirror-b.git"] {
            let refs = try fixture.refs(mirror, all: true)
            let visible = refs.filter { !$0.key.hasPrefix("refs/lifeboat/") }
            #expect(visible == (try fixture.refs(fixture.source)))
            let preserved = refs.filter { $0.key.hasPrefix("refs/lifeboat/preserved/") }
            #expect(preserved.count == 1)
            #expect(preserved.first?.key.hasSuffix("/heads/feature") == true)
            #expect(preserved.first?.value == first)
        }
        #expect(afterPush.destinations.allSatisfy { $0.preserved.map(\.reason) == ["deleted"] })
        _ = dropped

        // A force-push of a commit the mirrors have: the old tip is preserved, not lost.
        let mirroredTip = try fixture.commit("e.txt", "four")
        try fixture.push(["origin", "main"])
        #expect(await sync.sync(source).succeeded)
        try fixture.git(["reset", "--hard", "--quiet", first], in: fixture.work)
        try fixture.commit("f.txt", "history rewritten")
        try fixture.push(["--force", "origin", "main"])
        let forced = await sync.sync(source)
        #expect(forced.destinations.allSatisfy { $0.preserved.contains { $0.reason == "force-pushed" && $0.sha == mirroredTip } })
        for mirror in [local, base + "/mirror-b.git"] {
            let refs = try fixture.refs(mirror, all: true)
            #expect(refs.contains { $0.key.hasPrefix("refs/lifeboat/preserved/") && $0.key.hasSuffix("/heads/main") && $0.value == mirroredTip })
            #expect(refs["refs/heads/main"] == (try fixture.refs(fixture.source))["refs/heads/main"])
        }

        let verified = await sync.verify(source)
        #expect(verified.sourceError == nil)
        #expect(verified.cacheFsck.isEmpty)
        #expect(verified.mirrors.map(\.state) == ["in sync", "in sync"], "\(verified.mirrors)")

        // Nothing changed: nothing is pushed. Preserved tips expire after their time.
        let quiet = await sync.sync(source)
        #expect(quiet.destinations.allSatisfy { $0.refsChanged == 0 && $0.preserved.isEmpty })
        var shortLived = source
        shortLived.preserveFor = 0
        let expired = await sync.sync(shortLived, now: Date().addingTimeInterval(5))
        #expect(expired.destinations.allSatisfy { $0.expired == 2 })
        #expect(try fixture.refs(local, all: true).keys.allSatisfy { !$0.hasPrefix("refs/lifeboat/") })
    }

    @Test("verify names a changed ref and a corrupt object; an unreachable mirror fails alone")
    func tamperingAndUnreachable() async throws {
        let fixture = try GitFixture()
        try fixture.commit("a.txt", String(repeating: "content that makes a real blob\n", count: 50))
        try fixture.push(["origin", "main"])
        let good = try fixture.bare("good.git")
        let tampered = try fixture.bare("tampered.git")
        let unreachable = "git://127.0.0.1:\(try PostgresCluster.freePort())/nothing.git"
        let source = MirrorSource(name: "app", url: fixture.source, destinations: [good, unreachable, tampered])
        let sync = MirrorSync(git: Git(), cacheRoot: fixture.folder.file("cache"))

        let result = await sync.sync(source)
        #expect(!result.succeeded)
        #expect(result.destinations[0].succeeded && result.destinations[2].succeeded)
        #expect(result.destinations[1].error?.contains("nothing.git") == true || result.destinations[1].error != nil)
        #expect(try fixture.refs(good) == fixture.refs(fixture.source))

        // A ref moved on the mirror behind Lifeboat's back.
        let emptyTree = try fixture.git(["hash-object", "-t", "tree", "-w", "/dev/null"], in: tampered)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let other = try fixture.git(["commit-tree", "-m", "forged", emptyTree], in: tampered)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try fixture.git(["update-ref", "refs/heads/main", other], in: tampered)
        var verified = await sync.verify(source)
        #expect(verified.mirrors[0].state == "in sync")
        #expect(verified.mirrors[1].state == "unreachable")
        #expect(verified.mirrors[2].state == "diverged")
        #expect(verified.mirrors[2].differences.contains { $0.hasPrefix("refs/heads/main: mirror \(other.prefix(12))") })

        // An object file damaged on a local mirror: fsck names it.
        let objects = try FileManager.default.subpathsOfDirectory(atPath: good + "/objects")
            .filter { (path: String) in path.count == 41 && path.contains("/") }
        let victim = good + "/objects/" + (try #require(objects.first))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: victim)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
        bytes[bytes.count / 2] ^= 0xff
        try bytes.write(to: URL(fileURLWithPath: victim))
        verified = await sync.verify(source)
        #expect(verified.mirrors[0].state == "corrupt", "\(verified.mirrors[0])")
        #expect(!verified.mirrors[0].fsck.isEmpty)
    }
}
