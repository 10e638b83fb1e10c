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

    /// Whether the file starts with a segment's page header (segments and `.partial` segments).
    public static func hasPageHeader(_ name: String) -> Bool {
        timeline(of: name) != nil && (name.utf8.count == 24 || name.hasSuffix(".partial"))
    }

    public static func isHistory(_ name: String) -> Bool { name.hasSuffix(".history") && timeline(of: name) != nil }
}

extension BackupRepository {
    public enum WALPushResult: Sendable, Equatable {
        case stored(bytes: Int)
        /// The same content was archived before (PostgreSQL repeats a push after a crash): nothing to do.
        case alreadyArchived
    }

    /// `wal/<system identifier>/<timeline>/<file>`: each cluster's WAL apart, since WAL file names of unrelated
    /// clusters are the same. (Format 2 kept `wal/<timeline>/<file>`; only `wal fetch` and `repo upgrade` read it.)
    func walPath(_ name: String, timeline: String, cluster: String) -> String {
        isOlderFormat ? "wal/\(timeline)/\(name)" : "wal/\(cluster)/\(timeline)/\(name)"
    }

    static func walPath(_ name: String, timeline: String, cluster: String) -> String {
        "wal/\(cluster)/\(timeline)/\(name)"
    }

    private func checkedWALPath(_ name: String, cluster: String) throws(RepositoryError) -> String {
        guard let timeline = WALFileName.timeline(of: name) else {
            throw RepositoryError(.refused, "'\(name)' is not a WAL file name PostgreSQL archives")
        }
        guard isOlderFormat || SystemIdentifier.isValid(cluster) else {
            throw RepositoryError(.refused, "'\(cluster)' is not a PostgreSQL system identifier")
        }
        return walPath(name, timeline: timeline, cluster: cluster)
    }

    /// Archives one WAL file of the cluster `cluster` (its system identifier). The same content again succeeds;
    /// different content for an existing name is refused (`.conflict`) and never overwrites: two servers writing to
    /// one archive must be stopped, not merged.
    ///
    /// Refused, with nothing written: a segment whose page header names another cluster (or another position than
    /// its name), and a `.history` file whose timeline branches off a timeline the cluster does not have.
    /// `storedAt` keeps the time it was first archived (copies between repositories); nil: now.
    public func pushWAL(name: String, contents: [UInt8], cluster: String,
                        storedAt: Date? = nil) throws(RepositoryError) -> WALPushResult {
        try requireCurrentFormat()
        let path = try checkedWALPath(name, cluster: cluster)
        if WALFileName.hasPageHeader(name) {
            try checkSegment(name, contents, cluster: cluster)
        } else if WALFileName.isHistory(name) {
            try checkHistory(name, contents, cluster: cluster)
        }
        if let existing = try object(kind: .wal, path: path) {
            return try compare(existing, contents, name: name)
        }
        if try !store.exists(Self.clusterPath(cluster)) {
            try noteCluster(cluster, name: nil, postgresVersion: nil)
        }
        let sealed = codec.seal(contents, kind: .wal, name: path)
        if try store.write(path, sealed, mode: .createNew, storedAt: storedAt) {
            return .stored(bytes: sealed.count)
        }
        // Another pusher won the race for this name: its content must be the same.
        guard let existing = try object(kind: .wal, path: path) else {
            throw RepositoryError(.io, "\(path) vanished while it was being archived")
        }
        return try compare(existing, contents, name: name)
    }

    /// The segment's own header must name this cluster, and the position its name says.
    func checkSegment(_ name: String, _ contents: [UInt8], cluster: String) throws(RepositoryError) {
        guard let header = WALSegmentHeader(Array(contents.prefix(WALSegmentHeader.size))) else {
            throw RepositoryError(.refused, "\(name) does not start with a WAL segment's page header; not archiving it",
                                  hint: "archive_command must be given the files PostgreSQL names (%p)")
        }
        guard String(header.systemIdentifier) == cluster else {
            throw RepositoryError(.conflict, "WAL segment \(name) belongs to cluster \(header.systemIdentifier) (its page "
                + "header says so), not to cluster \(cluster) it is archived for; nothing was written",
                hint: "two servers may be archiving with one configuration; check archive_command on both")
        }
        let number = WALRange.segmentNumber(String(name.prefix(24)), segmentSize: UInt64(header.segmentSize))
        guard let number, number * UInt64(header.segmentSize) == header.pageAddress else {
            throw RepositoryError(.refused, "WAL segment \(name) holds the WAL at \(WALRange.format(header.pageAddress)), "
                + "not what its name says; not archiving it")
        }
    }

    /// A new timeline's history must branch off a timeline this cluster has (when it has any).
    private func checkHistory(_ name: String, _ contents: [UInt8], cluster: String) throws(RepositoryError) {
        guard let timeline = UInt32(name.prefix(8), radix: 16),
              let history = TimelineHistory(timeline: timeline, text: String(decoding: contents, as: UTF8.self)),
              let parent = history.parent else {
            throw RepositoryError(.refused, "\(name) is not a timeline history file PostgreSQL writes; not archiving it")
        }
        let archive = try walFiles(cluster: cluster)
        var known = Set(archive.keys.compactMap { UInt32($0, radix: 16) })
        known.remove(timeline)
        if known.contains(parent) {
            // Its ancestry must be the parent's own, as archived, plus the branch off the parent.
            let parentHistory = WALRange.hex8(UInt64(parent)) + ".history"
            guard archive[WALRange.hex8(UInt64(parent))]?.contains(parentHistory) == true else { return }
            guard let bytes = try fetchWAL(name: parentHistory, cluster: cluster),
                  let archived = TimelineHistory(timeline: parent, text: String(decoding: bytes, as: UTF8.self)) else {
                throw RepositoryError(.damaged, "the archived \(parentHistory) of cluster \(cluster) cannot be read")
            }
            guard Array(history.ancestors.dropLast()) == archived.ancestors else {
                throw RepositoryError(.conflict, "timeline \(timeline) (\(name)) names another ancestry for timeline \(parent) "
                    + "than the archived \(parentHistory) of cluster \(cluster); nothing was written",
                    hint: "a server restored from another archive is archiving here; stop it")
            }
            return
        }
        guard !known.isEmpty else { return }
        throw RepositoryError(.conflict, "timeline \(timeline) (\(name)) branches off timeline \(parent), which cluster "
            + "\(cluster) does not have in this archive (its timelines: \(known.sorted().map(String.init).joined(separator: ", "))); "
            + "nothing was written",
            hint: "a server restored from another archive, or from a foreign cluster, is archiving here; stop it")
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
    public func fetchWAL(name: String, cluster: String, archivedBefore: Date? = nil) throws(RepositoryError) -> [UInt8]? {
        guard WALFileName.timeline(of: name) != nil else { return nil }
        let path = try checkedWALPath(name, cluster: cluster)
        if let archivedBefore, let archived = try store.modificationTime(path), archived >= archivedBefore { return nil }
        if let contents = try object(kind: .wal, path: path) { return contents }
        return isOlderFormat ? nil : try olderLayoutWAL(name, cluster: cluster, archivedBefore: archivedBefore)
    }

    /// A file of this cluster that an interrupted upgrade left in the format 2 layout without a copy yet (archived by
    /// a format 2 writer during the upgrade): a segment when its header names the cluster, another file when the
    /// repository holds this cluster only. `repo upgrade` moves it.
    private func olderLayoutWAL(_ name: String, cluster: String, archivedBefore: Date?) throws(RepositoryError) -> [UInt8]? {
        guard let timeline = WALFileName.timeline(of: name) else { return nil }
        let path = "wal/\(timeline)/\(name)"
        if let archivedBefore, let archived = try store.modificationTime(path), archived >= archivedBefore { return nil }
        guard let sealed = try store.read(path) else { return nil }
        let contents = try codec.open(sealed, kind: .wal, name: path)
        if WALFileName.hasPageHeader(name) {
            guard let header = WALSegmentHeader(Array(contents.prefix(WALSegmentHeader.size))),
                  String(header.systemIdentifier) == cluster else { return nil }
            return contents
        }
        guard try walClusters() == [cluster] else {
            throw RepositoryError(.damaged, "\(path) was left in the format 2 layout by an interrupted upgrade, and whose it is "
                + "cannot be told here", hint: "run `lifeboat repo upgrade` to finish the upgrade")
        }
        return contents
    }

    /// When a WAL file reached the archive; nil when it is not there.
    public func walArchiveTime(name: String, cluster: String) throws(RepositoryError) -> Date? {
        guard WALFileName.timeline(of: name) != nil else { return nil }
        return try store.modificationTime(try checkedWALPath(name, cluster: cluster))
    }

    public func hasWAL(name: String, cluster: String) throws(RepositoryError) -> Bool {
        guard WALFileName.timeline(of: name) != nil else { return false }
        return try store.exists(try checkedWALPath(name, cluster: cluster))
    }

    /// The clusters with archived WAL (system identifiers).
    public func walClusters() throws(RepositoryError) -> [String] {
        try requireCurrentFormat()
        return try store.list("wal").filter(SystemIdentifier.isValid)
    }

    /// A cluster's archived WAL file names, by timeline (8 hex digits), sorted.
    public func walFiles(cluster: String) throws(RepositoryError) -> [String: [String]] {
        try requireCurrentFormat()
        guard SystemIdentifier.isValid(cluster) else {
            throw RepositoryError(.refused, "'\(cluster)' is not a PostgreSQL system identifier")
        }
        var result: [String: [String]] = [:]
        for object in try store.listAll("wal/" + cluster) {
            let parts = object.path.split(separator: "/")
            guard parts.count == 4, WALFileName.timeline(of: String(parts[3])) == String(parts[2]) else { continue }
            result[String(parts[2]), default: []].append(String(parts[3]))
        }
        return result.mapValues { $0.sorted() }
    }

    /// Removes an archived WAL file (retention).
    public func removeWAL(name: String, cluster: String) throws(RepositoryError) {
        try requireCurrentFormat()
        try store.remove(try checkedWALPath(name, cluster: cluster))
    }
}
