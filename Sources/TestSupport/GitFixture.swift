import Foundation
import Postgres

/// Real git repositories for mirror tests: a bare source with a working clone to commit and push from, bare mirror
/// folders, and a `git daemon` on loopback that accepts pushes.
public final class GitFixture: Sendable {
    public let folder: TemporaryDirectory
    public var source: String { folder.file("source.git") }
    public var work: String { folder.file("work") }

    public init() throws {
        folder = try TemporaryDirectory(prefix: "lifeboat-git")
        try git(["init", "--bare", "--quiet", "--initial-branch=main", source])
        try git(["clone", "--quiet", source, work])
        try git(["config", "user.email", "test@lifeboat.invalid"], in: work)
        try git(["config", "user.name", "Lifeboat Test"], in: work)
    }

    deinit { folder.remove() }

    /// Runs git; throws with its output when it fails.
    @discardableResult
    public func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        let result = try ProcessRunner.run("/usr/bin/git", (directory.map { ["-C", $0] } ?? []) + arguments,
                                           environment: ProcessInfo.processInfo.environment.merging(["GIT_TERMINAL_PROMPT": "0"]) { $1 })
        guard result.status == 0 else {
            throw FixtureError("git \(arguments.joined(separator: " ")) failed: \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    /// Commits a file in the working clone (on the current branch) and returns the commit id.
    @discardableResult
    public func commit(_ file: String, _ content: String, message: String? = nil) throws -> String {
        try Data(content.utf8).write(to: URL(fileURLWithPath: work + "/" + file))
        try git(["add", file], in: work)
        try git(["commit", "--quiet", "-m", message ?? "change \(file)"], in: work)
        return try git(["rev-parse", "HEAD"], in: work).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `git push ARGUMENTS` from the working clone to the source.
    public func push(_ arguments: [String]) throws {
        try git(["push", "--quiet"] + arguments, in: work)
    }

    /// A new empty bare repository (a mirror destination).
    public func bare(_ name: String) throws -> String {
        let path = folder.file(name)
        try git(["init", "--bare", "--quiet", path])
        return path
    }

    /// `ref → sha` of a repository (not Lifeboat's namespace).
    public func refs(_ repository: String, all: Bool = false) throws -> [String: String] {
        var refs: [String: String] = [:]
        for line in try git(["for-each-ref", "--format=%(objectname) %(refname)"], in: repository).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, all || !fields[1].hasPrefix("refs/lifeboat/") else { continue }
            refs[String(fields[1])] = String(fields[0])
        }
        return refs
    }

    /// Starts `git daemon` serving (and accepting pushes into) the bare repositories below `base`; returns its
    /// `git://127.0.0.1:PORT/` prefix and the running process.
    public func daemon(base: String) async throws -> (url: String, process: RunningProcess) {
        let port = try ServerUser.freePort()
        let process = try ProcessRunner.start("/usr/bin/git", [
            "daemon", "--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--base-path=\(base)", "--export-all",
            "--enable=receive-pack", base,
        ])
        let up = await portAccepts(port)
        guard up else {
            process.signal(SIGKILL)
            _ = process.wait()
            throw FixtureError("git daemon did not start on port \(port)")
        }
        return ("git://127.0.0.1:\(port)/", process)
    }
}
