import Mirrors
import Testing

@Suite("Mirror URLs and refs")
struct RemoteURLTests {
    @Test("credentials are stripped from URLs; ssh user names stay")
    func display() {
        #expect(RemoteURL.display("https://ci:s3cret@git.example.org/a.git") == "https://***@git.example.org/a.git")
        #expect(RemoteURL.display("https://token@git.example.org/a.git") == "https://***@git.example.org/a.git")
        #expect(RemoteURL.display("https://git.example.org/a.git") == "https://git.example.org/a.git")
        #expect(RemoteURL.display("ssh://git@host/a.git") == "ssh://git@host/a.git")
        #expect(RemoteURL.display("ssh://git:pw@host/a.git") == "ssh://***@host/a.git")
        #expect(RemoteURL.display("/srv/mirrors/a.git") == "/srv/mirrors/a.git")
        #expect(RemoteURL.localPath("file:///srv/a.git") == "/srv/a.git")
        #expect(RemoteURL.localPath("git://host/a.git") == nil)
    }

    @Test("refs parse from ls-remote and for-each-ref; include, exclude and the reserved namespace filter them")
    func refs() {
        let listed = RefSet.parse("""
            1111\tHEAD
            2222\trefs/heads/main
            3333\trefs/tags/v1
            4444\trefs/tags/v1^{}
            5555\trefs/pull/7/head
            6666\trefs/lifeboat/preserved/20261126T000000Z/heads/old
            """)
        #expect(listed.refs.count == 4)
        #expect(listed.refs["refs/tags/v1"] == "3333")
        #expect(listed.mirrored(include: [], exclude: ["refs/pull/*"]).refs.keys.sorted() == ["refs/heads/main", "refs/tags/v1"])
        #expect(listed.mirrored(include: ["refs/heads/*"], exclude: []).refs.keys.sorted() == ["refs/heads/main"])
        #expect(listed.preserved.refs.count == 1)
    }
}
