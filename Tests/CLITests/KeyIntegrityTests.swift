import Foundation
import TestSupport
import Testing

/// A damaged key file or key slot is refused with a clear message, and nothing is written with a wrong key.
@Suite("key files and key slots fail closed")
struct KeyIntegrityTests {
    let sysid = "7300000000000000001"

    func makeRepository(_ bench: CLIBench) throws -> (repo: String, passphrase: String, keyFile: String) {
        let passphrase = try bench.folder.write("passphrase", "correct horse battery staple\n")
        let repo = bench.folder.file("repo")
        let created = try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase])
        #expect(created.status == 0, "\(created.stderr)")
        let keyFile = bench.folder.file("repo.key")
        let exported = try bench.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase, "--to", keyFile])
        #expect(exported.status == 0, "\(exported.stderr)")
        return (repo, passphrase, keyFile)
    }

    func files(_ folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? []).sorted()
    }

    /// The key file's text with one hexadecimal digit of `master` changed.
    func damagedCopy(of keyFile: String, into path: String) throws {
        var text = try String(contentsOfFile: keyFile, encoding: .utf8)
        let range = try #require(text.range(of: "\"master\" : \""))
        let digit = text.index(range.upperBound, offsetBy: 10)
        text.replaceSubrange(digit...digit, with: text[digit] == "0" ? "1" : "0")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test("a key file with one wrong digit, truncated, or unreadable: nothing is written, the exit code says why")
    func damagedKeyFile() throws {
        let bench = try CLIBench()
        let (repo, passphrase, keyFile) = try makeRepository(bench)
        let segment = bench.folder.file("000000010000000000000001")
        try Data(WALFixture.segment("000000010000000000000001", systemIdentifier: UInt64(sysid)!)).write(to: URL(fileURLWithPath: segment))
        let before = files(repo)

        let damaged = bench.folder.file("damaged.key")
        try damagedCopy(of: keyFile, into: damaged)
        // Without its own check value too (a file exported before key checks, or a check edited to match).
        let unchecked = bench.folder.file("unchecked.key")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: damaged))) as? [String: Any])
        var stripped = object
        stripped["check"] = nil
        try JSONSerialization.data(withJSONObject: stripped).write(to: URL(fileURLWithPath: unchecked))
        let truncated = bench.folder.file("truncated.key")
        let whole = try Data(contentsOf: URL(fileURLWithPath: keyFile))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))

        for key in [damaged, unchecked, truncated] {
            let push = try bench.run(["wal", "push", segment, "--repo", repo, "--key-file", key, "--cluster", sysid])
            #expect(push.status == 12, "\(key): \(push.stderr)")
            #expect(push.stderr.contains("does not open this repository"), "\(push.stderr)")
            #expect(!push.stderr.contains("DecodingError") && !push.stderr.contains("dataCorrupted"))
            let list = try bench.run(["backup", "list", "--repo", repo, "--key-file", key])
            #expect(list.status == 12, "\(list.stderr)")
            let add = try bench.run(["repo", "key", "add", "--repo", repo, "--key-file", key, "--new-passphrase-file", passphrase])
            #expect(add.status == 12, "\(add.stderr)")
        }
        #expect(files(repo) == before, "a wrong key wrote something")

        let unreadable = bench.folder.file("nowhere.key")
        let missing = try bench.run(["backup", "list", "--repo", repo, "--key-file", unreadable])
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("cannot read key file \(unreadable)"))

        // The real key still works.
        let good = try bench.run(["wal", "push", segment, "--repo", repo, "--key-file", keyFile, "--cluster", sysid])
        #expect(good.status == 0, "\(good.stderr)")
    }

    @Test("a damaged key slot is named by verify and key list, and opening tells it from a wrong passphrase")
    func damagedSlot() throws {
        let bench = try CLIBench()
        let (repo, passphrase, keyFile) = try makeRepository(bench)
        let slots = try FileManager.default.contentsOfDirectory(atPath: repo + "/keys")
        let slot = try #require(slots.first)
        #expect(try bench.run(["verify", "--repo", repo, "--key-file", keyFile]).status == 0)

        // One byte of the wrapped key flipped.
        let path = repo + "/keys/" + slot
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let range = try #require(text.range(of: "\"wrapped\" : \""))
        let digit = text.index(range.upperBound, offsetBy: 6)
        text.replaceSubrange(digit...digit, with: text[digit] == "a" ? "b" : "a")
        try text.write(toFile: path, atomically: true, encoding: .utf8)

        let verify = try bench.run(["verify", "--repo", repo, "--key-file", keyFile])
        #expect(verify.status == 3, "\(verify.stderr)")
        #expect(verify.stdout.contains("key slot keys/\(slot): damaged"), "\(verify.stdout)")
        let opened = try bench.run(["backup", "list", "--repo", repo, "--passphrase-file", passphrase])
        #expect(opened.status == 3, "\(opened.stderr)")
        #expect(opened.stderr.contains("key slot \(slot)") && opened.stderr.contains("damaged"), "\(opened.stderr)")
        #expect(!opened.stderr.contains("wrong passphrase"))
        let listed = try bench.run(["repo", "key", "list", "--repo", repo, "--key-file", keyFile])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("DAMAGED") && listed.stderr.contains("key slot \(slot) is damaged"), "\(listed)")

        // A wrong passphrase on a sound repository stays "wrong passphrase" (exit 12).
        let other = try bench.folder.write("other", "not the passphrase")
        let sound = bench.folder.file("sound")
        #expect(try bench.run(["repo", "init", "--repo", sound, "--passphrase-file", passphrase]).status == 0)
        let wrong = try bench.run(["backup", "list", "--repo", sound, "--passphrase-file", other])
        #expect(wrong.status == 12 && wrong.stderr.contains("wrong passphrase"), "\(wrong.stderr)")
    }

    @Test("a single key slot without a recently checked key file is warned about; key check clears it")
    func singleKeyWarning() throws {
        let bench = try CLIBench()
        let passphrase = try bench.folder.write("passphrase", "correct horse battery staple\n")
        let repo = bench.folder.file("repo")
        #expect(try bench.run(["repo", "init", "--repo", repo, "--passphrase-file", passphrase]).status == 0)
        let verify = try bench.run(["verify", "--repo", repo, "--passphrase-file", passphrase])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stderr.contains("single key slot"), "\(verify.stderr)")
        let json = try bench.run(["verify", "--repo", repo, "--passphrase-file", passphrase, "--json"])
        #expect(json.stdout.contains("single key slot") && json.stdout.contains("\"key_slots_checked\" : 1"), "\(json.stdout)")

        // A key file written with a bare name lands in the current directory, and checking it records the check.
        let work = bench.folder.file("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let exported = try bench.cli.run(["repo", "key", "export", "--repo", repo, "--passphrase-file", passphrase,
                                          "--to", "safe.key"], directory: work)
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(FileManager.default.fileExists(atPath: work + "/safe.key"))
        #expect(!FileManager.default.fileExists(atPath: "/safe.key"))
        let checked = try bench.cli.run(["repo", "key", "check", "--repo", repo, "--key-file", "./safe.key"], directory: work)
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stdout.contains("opens repository"))
        let after = try bench.run(["verify", "--repo", repo, "--passphrase-file", passphrase])
        #expect(after.status == 0 && !after.stderr.contains("single key slot"), "\(after.stderr)")

        // status warns too (without leaving its targets): a repository of its own with one key and no key file.
        let lonely = bench.folder.file("lonely")
        #expect(try bench.run(["repo", "init", "--repo", lonely, "--passphrase-file", passphrase]).status == 0)
        let inventory = try bench.folder.write("inventory.yaml", """
            repositories:
              checked: { location: \(repo), passphrase: "${file:\(passphrase)}" }
              lonely: { location: \(lonely), passphrase: "${file:\(passphrase)}" }
            """)
        let status = try bench.run(["status", "--inventory", inventory])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stderr.contains("repository lonely:") && status.stderr.contains("single key slot"), "\(status.stderr)")
        #expect(!status.stderr.contains("repository checked:"), "\(status.stderr)")
    }
}
