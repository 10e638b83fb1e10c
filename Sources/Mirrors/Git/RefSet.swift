import Foundation

/// Refs and the objects they point at, as `git ls-remote` and `git for-each-ref` print them.
public struct RefSet: Sendable, Equatable {
    public var refs: [String: String]

    public init(_ refs: [String: String] = [:]) { self.refs = refs }

    /// Where Lifeboat keeps the old tips it preserved on a mirror, and its own working refs in the cache.
    public static let reservedPrefix = "refs/lifeboat/"
    public static let preservedPrefix = "refs/lifeboat/preserved/"

    /// Parses `<sha>\t<ref>` (ls-remote) or `<sha> <ref>` (for-each-ref) lines; skips `HEAD` and peeled `^{}` lines.
    public static func parse(_ text: String) -> RefSet {
        var refs: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count == 2 else { continue }
            let name = String(fields[1])
            guard name.hasPrefix("refs/"), !name.hasSuffix("^{}") else { continue }
            refs[name] = String(fields[0])
        }
        return RefSet(refs)
    }

    /// The refs a mirror carries: not Lifeboat's own, matching `include` (all when empty) and no `exclude` pattern
    /// (shell patterns: `refs/heads/*`, `refs/pull/*`).
    public func mirrored(include: [String], exclude: [String]) -> RefSet {
        RefSet(refs.filter { name, _ in
            !name.hasPrefix(Self.reservedPrefix)
                && (include.isEmpty || include.contains { Self.matches(name, $0) })
                && !exclude.contains { Self.matches(name, $0) }
        })
    }

    /// The preserved refs only.
    public var preserved: RefSet { RefSet(refs.filter { $0.key.hasPrefix(Self.preservedPrefix) }) }

    static func matches(_ name: String, _ pattern: String) -> Bool {
        fnmatch(pattern, name, 0) == 0
    }
}
