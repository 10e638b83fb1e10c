import Foundation
import LifeboatCore

/// Keeps mirrors equal to their source without ever losing history.
///
/// A local cache (`git clone --mirror`, then `fetch --prune`) holds the source's refs and objects. For each mirror,
/// its refs are fetched into the cache under `refs/lifeboat/dest/`, compared with the source's, and one atomic push
/// makes them equal: before a ref is deleted, or moved to a commit that does not contain its old tip, the old tip is
/// pushed to `refs/lifeboat/preserved/<UTC time>/<ref>` in the same push — all or nothing. Preserved refs older than
/// the source's `preserveFor` are deleted in a later push. One mirror failing never stops the others.
public struct MirrorSync: Sendable {
    public let git: Git
    public let cacheRoot: String

    public init(git: Git, cacheRoot: String) {
        self.git = git
        self.cacheRoot = cacheRoot
    }

    public func sync(_ source: MirrorSource, now: Date = Date(), timeout: Duration? = nil) async -> SourceResult {
        let started = Date()
        var result = SourceResult(source: source.name, refs: 0, seconds: 0, error: nil, destinations: [])
        let cache = source.cache(in: cacheRoot)
        do {
            try await updateCache(source, cache: cache, timeout: timeout)
        } catch {
            result.error = "cannot fetch \(RemoteURL.display(source.url)): \(error)"
            result.seconds = Date().timeIntervalSince(started)
            return result
        }
        let sourceRefs: RefSet
        do {
            sourceRefs = try await refs(in: cache).mirrored(include: source.include, exclude: source.exclude)
        } catch {
            result.error = "cannot read the cache \(cache): \(error)"
            return result
        }
        result.refs = sourceRefs.refs.count
        for (number, destination) in source.destinations.enumerated() {
            let begun = Date()
            var outcome = DestinationResult(destination: RemoteURL.display(destination), refsChanged: 0, preserved: [],
                                            expired: 0, bytes: 0, seconds: 0, error: nil)
            do {
                try await push(source, sourceRefs: sourceRefs, cache: cache, destination: destination,
                               namespace: "refs/lifeboat/dest/\(number)/", now: now, timeout: timeout, into: &outcome)
            } catch {
                outcome.error = "\(error)"
            }
            outcome.seconds = Date().timeIntervalSince(begun)
            result.destinations.append(outcome)
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// Clones the source the first time, then fetches with prune.
    func updateCache(_ source: MirrorSource, cache: String, timeout: Duration?) async throws {
        if FileManager.default.fileExists(atPath: cache + "/HEAD") {
            try await git.run(["remote", "set-url", "origin", source.url], in: cache)
            try await git.run(["fetch", "--prune", "--quiet", "origin"], in: cache, timeout: timeout, credentials: source.url)
            return
        }
        try FileManager.default.createDirectory(atPath: cacheRoot, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        do {
            try await git.run(["clone", "--mirror", "--quiet", source.url, cache], timeout: timeout)
        } catch {
            try? FileManager.default.removeItem(atPath: cache)
            throw error
        }
    }

    func refs(in repository: String, under prefix: String = "refs/") async throws -> RefSet {
        RefSet.parse(try await git.run(["for-each-ref", "--format=%(objectname) %(refname)", prefix], in: repository).stdout)
    }

    private func push(_ source: MirrorSource, sourceRefs: RefSet, cache: String, destination: String, namespace: String,
                      now: Date, timeout: Duration?, into outcome: inout DestinationResult) async throws {
        // The mirror's refs (and objects) into the cache, so that old tips can be checked and preserved.
        try await git.run(["fetch", "--no-tags", "--quiet", destination, "+refs/*:\(namespace)*"], in: cache, timeout: timeout)
        do {
            try await pushChanges(source, sourceRefs: sourceRefs, cache: cache, destination: destination,
                                  namespace: namespace, now: now, timeout: timeout, into: &outcome)
        } catch {
            try? await dropNamespace(namespace, in: cache)
            throw error
        }
        try? await dropNamespace(namespace, in: cache)
    }

    private func pushChanges(_ source: MirrorSource, sourceRefs: RefSet, cache: String, destination: String,
                             namespace: String, now: Date, timeout: Duration?,
                             into outcome: inout DestinationResult) async throws {
        var mirror = RefSet()
        for (name, sha) in try await refs(in: cache, under: namespace).refs {
            mirror.refs["refs/" + name.dropFirst(namespace.count)] = sha
        }
        let mirrored = mirror.mirrored(include: source.include, exclude: source.exclude)
        let stamp = Self.stamp(now)
        var specs: [String] = []
        var changed = 0
        for (ref, old) in mirrored.refs.sorted(by: { $0.key < $1.key }) {
            if let new = sourceRefs.refs[ref] {
                guard new != old else { continue }
                if try await !isAncestor(old, of: new, in: cache) {
                    let name = RefSet.preservedPrefix + stamp + "/" + ref.dropFirst("refs/".count)
                    outcome.preserved.append(PreservedRef(ref: ref, preservedAs: name, sha: old, reason: "force-pushed"))
                    specs.append("\(old):\(name)")
                }
                specs.append("+\(new):\(ref)")
            } else {
                let name = RefSet.preservedPrefix + stamp + "/" + ref.dropFirst("refs/".count)
                outcome.preserved.append(PreservedRef(ref: ref, preservedAs: name, sha: old, reason: "deleted"))
                specs.append("\(old):\(name)")
                specs.append(":\(ref)")
            }
            changed += 1
        }
        for (ref, new) in sourceRefs.refs.sorted(by: { $0.key < $1.key }) where mirrored.refs[ref] == nil {
            specs.append("+\(new):\(ref)")
            changed += 1
        }
        // Preserved tips past their time.
        for ref in mirror.preserved.refs.keys.sorted() {
            let stampText = ref.dropFirst(RefSet.preservedPrefix.count).prefix { $0 != "/" }
            if let preservedAt = Self.parseStamp(String(stampText)), now.timeIntervalSince(preservedAt) > source.preserveFor {
                specs.append(":\(ref)")
                outcome.expired += 1
            }
        }
        outcome.refsChanged = changed
        guard !specs.isEmpty else { return }
        let pushed = try await git.run(["push", "--atomic", "--porcelain", "--progress", destination] + specs,
                                       in: cache, timeout: timeout)
        outcome.bytes = Self.bytesWritten(pushed.stderr)
    }

    /// Whether `old` is contained in `new`'s history (a fast-forward). Unknown objects count as not contained, so the
    /// old tip is preserved rather than lost.
    func isAncestor(_ old: String, of new: String, in cache: String) async throws -> Bool {
        try await git.run(["merge-base", "--is-ancestor", old, new], in: cache, check: false).status == 0
    }

    func dropNamespace(_ namespace: String, in cache: String) async throws {
        let names = try await refs(in: cache, under: namespace).refs.keys
        guard !names.isEmpty else { return }
        try await git.run(["update-ref", "--stdin"], in: cache,
                          input: names.map { "delete \($0)\n" }.joined())
    }

    /// `20261126T211500Z`.
    static func stamp(_ date: Date) -> String { Formatted.compactTimestamp(date) }

    static func parseStamp(_ text: String) -> Date? { Formatted.parseCompactTimestamp(text) }

    /// The pack size from git's progress line `Writing objects: 100% (3/3), 1.20 KiB | ...`.
    static func bytesWritten(_ progress: String) -> Int64 {
        guard let line = progress.components(separatedBy: CharacterSet(charactersIn: "\r\n"))
            .last(where: { $0.hasPrefix("Writing objects: 100%") }) else { return 0 }
        let fields = line.split(separator: ",").dropFirst().first?.split(separator: "|").first?
            .split(separator: " ") ?? []
        guard fields.count >= 2, let value = Double(fields[0]) else { return 0 }
        let scale: Double = switch fields[1] {
        case "KiB": 1024
        case "MiB": 1024 * 1024
        case "GiB": 1024 * 1024 * 1024
        default: 1
        }
        return Int64(value * scale)
    }
}
