import Foundation

/// The names PostgreSQL archives: segments (`000000010000000000000003`), `.partial` segments after a promotion,
/// `.backup` history files and timeline `.history` files.
public enum WALFileName {
    /// The timeline (8 hex digits) a file belongs to, or nil when the name is not one PostgreSQL archives.
    public static func timeline(of name: String) -> String? {
        let chars = Array(name.utf8)
        func isHex(_ range: Range<Int>) -> Bool {
            range.upperBound <= chars.count && chars[range].allSatisfy { (48...57).contains($0) || (65...70).contains($0) }
        }
        let segment = isHex(0..<24)
        let valid = (chars.count == 24 && segment)
            || (chars.count == 32 && segment && name.hasSuffix(".partial"))
            || (chars.count == 40 && segment && chars[24] == 46 && isHex(25..<33) && name.hasSuffix(".backup"))
            || (chars.count == 16 && isHex(0..<8) && name.hasSuffix(".history"))
        return valid ? String(name.prefix(8)) : nil
    }

    /// Whether the name is a plain 16 MiB segment.
    public static func isSegment(_ name: String) -> Bool { name.utf8.count == 24 && timeline(of: name) != nil }
}

extension BackupRepository {
    public enum WALPushResult: Sendable, Equatable {
        case stored(bytes: Int)
        /// The same content was archived before (PostgreSQL repeats a push after a crash): nothing to do.
        case alreadyArchived
    }

    static func walPath(_ name: String, timeline: String) -> String { "wal/\(timeline)/\(name)" }

    /// Archives one WAL file. The same content again succeeds; different content for an existing name is refused
    /// (`.conflict`) and never overwrites: two servers writing to one archive must be stopped, not merged.
    public func pushWAL(name: String, contents: [UInt8]) throws(RepositoryError) -> WALPushResult {
        guard let timeline = WALFileName.timeline(of: name) else {
            throw RepositoryError(.refused, "'\(name)' is not a WAL file name PostgreSQL archives")
        }
        let path = Self.walPath(name, timeline: timeline)
        if let existing = try object(kind: .wal, path: path) {
            return try compare(existing, contents, name: name)
        }
        let sealed = codec.seal(contents, kind: .wal, name: path)
        if try store.write(path, sealed, mode: .createNew) {
            return .stored(bytes: sealed.count)
        }
        // Another pusher won the race for this name: its content must be the same.
        guard let existing = try object(kind: .wal, path: path) else {
            throw RepositoryError(.io, "\(path) vanished while it was being archived")
        }
        return try compare(existing, contents, name: name)
    }

    private func compare(_ existing: [UInt8], _ contents: [UInt8], name: String) throws(RepositoryError) -> WALPushResult {
        guard existing == contents else {
            throw RepositoryError(.conflict, "WAL file \(name) is already archived with different content; not overwriting it",
                                  hint: "two servers may be archiving into one repository (split brain); stop one and investigate")
        }
        return .alreadyArchived
    }

    /// An archived WAL file's content, checked; nil when it is not in the archive. With `archivedBefore`, a file
    /// archived at or after that time counts as absent: a drill sees the archive as it was when its simulated
    /// disaster struck, so WAL arriving during the drill cannot flatter its RPO.
    public func fetchWAL(name: String, archivedBefore: Date? = nil) throws(RepositoryError) -> [UInt8]? {
        guard let timeline = WALFileName.timeline(of: name) else { return nil }
        let path = Self.walPath(name, timeline: timeline)
        if let archivedBefore, let archived = try store.modificationTime(path), archived >= archivedBefore { return nil }
        return try object(kind: .wal, path: path)
    }

    /// When a WAL file reached the archive; nil when it is not there.
    public func walArchiveTime(name: String) throws(RepositoryError) -> Date? {
        guard let timeline = WALFileName.timeline(of: name) else { return nil }
        return try store.modificationTime(Self.walPath(name, timeline: timeline))
    }

    public func hasWAL(name: String) throws(RepositoryError) -> Bool {
        guard let timeline = WALFileName.timeline(of: name) else { return false }
        return try store.exists(Self.walPath(name, timeline: timeline))
    }

    /// Archived WAL file names, by timeline, sorted.
    public func walFiles() throws(RepositoryError) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for object in try store.listAll("wal") {
            let parts = object.path.split(separator: "/")
            guard parts.count == 3, WALFileName.timeline(of: String(parts[2])) == String(parts[1]) else { continue }
            result[String(parts[1]), default: []].append(String(parts[2]))
        }
        return result.mapValues { $0.sorted() }
    }

    /// Removes an archived WAL file (retention).
    public func removeWAL(name: String) throws(RepositoryError) {
        guard let timeline = WALFileName.timeline(of: name) else { return }
        try store.remove(Self.walPath(name, timeline: timeline))
    }
}
