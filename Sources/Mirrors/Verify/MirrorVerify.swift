import Foundation

/// How one mirror compares with its source.
public struct MirrorCheck: Sendable, Codable {
    public var destination: String
    /// `in sync`, `behind`, `diverged`, `corrupt` or `unreachable`.
    public var state: String
    /// Each differing ref: `refs/heads/main: mirror 1a2b3c4, source 5d6e7f8`, `missing refs/tags/v2`, `extra …`.
    public var differences: [String]
    /// `git fsck --full` problems (local mirrors only).
    public var fsck: [String]

    public var inSync: Bool { state == "in sync" }
}

/// The verification of one source: its refs, the cache's fsck, and every mirror.
public struct SourceCheck: Sendable, Codable {
    public var source: String
    public var refs: Int
    /// The source could not be listed (then mirrors are compared with the cache).
    public var sourceError: String?
    public var cacheFsck: [String]
    public var mirrors: [MirrorCheck]
}

extension MirrorSync {
    /// Compares every mirror's refs (`ls-remote`, Lifeboat's namespace excluded) with the source's, and runs
    /// `git fsck --full` on the cache and on mirrors that are local folders.
    public func verify(_ source: MirrorSource, timeout: Duration? = nil) async -> SourceCheck {
        let cache = source.cache(in: cacheRoot)
        var check = SourceCheck(source: source.name, refs: 0, sourceError: nil, cacheFsck: [], mirrors: [])
        var sourceRefs: RefSet
        do {
            sourceRefs = RefSet.parse(try await git.run(["ls-remote", source.url], timeout: timeout).stdout)
        } catch {
            check.sourceError = "cannot list \(RemoteURL.display(source.url)): \(error)"
            sourceRefs = (try? await refs(in: cache)) ?? RefSet()
        }
        sourceRefs = sourceRefs.mirrored(include: source.include, exclude: source.exclude)
        check.refs = sourceRefs.refs.count
        if FileManager.default.fileExists(atPath: cache + "/HEAD") {
            check.cacheFsck = await fsck(cache)
        }
        for destination in source.destinations {
            let shown = RemoteURL.display(destination)
            var mirror = MirrorCheck(destination: shown, state: "in sync", differences: [], fsck: [])
            let listed: RefSet
            do {
                listed = RefSet.parse(try await git.run(["ls-remote", destination], timeout: timeout).stdout)
            } catch {
                mirror.state = "unreachable"
                mirror.differences = ["\(error)"]
                check.mirrors.append(mirror)
                continue
            }
            let mirrored = listed.mirrored(include: source.include, exclude: source.exclude)
            var behindOnly = true
            for (ref, sha) in sourceRefs.refs.sorted(by: { $0.key < $1.key }) {
                guard let theirs = mirrored.refs[ref] else {
                    mirror.differences.append("missing \(ref)")
                    continue
                }
                guard theirs != sha else { continue }
                mirror.differences.append("\(ref): mirror \(theirs.prefix(12)), source \(sha.prefix(12))")
                if !((try? await isAncestor(theirs, of: sha, in: cache)) ?? false) { behindOnly = false }
            }
            for ref in mirrored.refs.keys.sorted() where sourceRefs.refs[ref] == nil {
                mirror.differences.append("extra \(ref)")
                behindOnly = false
            }
            if !mirror.differences.isEmpty { mirror.state = behindOnly ? "behind" : "diverged" }
            if let path = RemoteURL.localPath(destination) {
                mirror.fsck = await fsck(path)
                if !mirror.fsck.isEmpty { mirror.state = "corrupt" }
            }
            check.mirrors.append(mirror)
        }
        return check
    }

    /// `git fsck --full` problems (empty when clean; dangling objects are not problems).
    func fsck(_ repository: String) async -> [String] {
        guard let output = try? await git.run(["fsck", "--full", "--no-progress", "--no-dangling"], in: repository,
                                               check: false) else {
            return ["git fsck could not run"]
        }
        // Exit 0 means intact; notices (e.g. "HEAD points to an unborn branch") are not problems.
        guard output.status != 0 else { return [] }
        let lines = (output.stdout + "\n" + output.stderr).split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty && !$0.hasPrefix("notice:") }
        return Array((lines.isEmpty ? ["git fsck exited \(output.status)"] : lines).prefix(10))
    }

    /// Writes `git bundle create --all` of the source's cache to `path`; false when the cache has no refs.
    public func bundle(_ source: MirrorSource, to path: String) async throws -> Bool {
        let cache = source.cache(in: cacheRoot)
        guard !(try await refs(in: cache).refs.isEmpty) else { return false }
        try await git.run(["bundle", "create", "--quiet", path, "--all"], in: cache)
        return true
    }

    /// Clones a bundle into `directory` as a bare mirror with every ref.
    public func restoreBundle(_ path: String, to directory: String) async throws {
        try await git.run(["clone", "--mirror", "--quiet", path, directory])
        try await git.run(["remote", "remove", "origin"], in: directory, check: false)
    }
}
