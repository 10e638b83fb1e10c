import Foundation
import Repository

/// Finds named restore points (`pg_create_restore_point`) in a cluster's archived WAL, so that a restore to a
/// named target starts from the newest backup taken before it (PostgreSQL stops at the first restore point of the
/// name after the backup it starts from; one taken after the restore point never reaches it).
///
/// WAL is read as PostgreSQL writes it: 8 KiB pages (a long header on a segment's first page, short ones after;
/// each header is checked to be at its own position, so recycled or unwritten pages end the scan), records aligned
/// to 8 bytes and spanning pages, `XLOG_SWITCH` jumping to the next segment. A restore point is a record of the
/// XLOG resource manager with info `XLOG_RESTORE_POINT`, whose main data is `xl_restore_point` (a timestamp, then
/// the name in 64 bytes).
public enum RestorePoints {
    public struct Found: Sendable, Equatable {
        /// Where the record starts.
        public var lsn: UInt64
        public var time: Date
    }

    /// The timeline WAL at a position is read from, along a timeline's history.
    struct Lineage {
        var target: UInt32
        var branches: [TimelineHistory.Branch]

        /// The timeline in effect at `position`.
        func timeline(at position: UInt64) -> UInt32 {
            branches.first { position < $0.switchpoint }?.parent ?? target
        }
    }

    /// Reads segment number N of a lineage from the archive. A segment holding a switch point is read from the newer
    /// timeline (it carries the older one's WAL up to the switch point); the last segment of a timeline a promotion
    /// ended is archived as `.partial`.
    static func segments(of repository: BackupRepository, cluster: String, lineage: Lineage,
                         segmentSize: UInt64) -> (UInt64) throws -> [UInt8]? {
        { segment in
            let last = lineage.timeline(at: (segment + 1) * segmentSize - 1)
            let first = lineage.timeline(at: segment * segmentSize)
            for tli in Set([last, first]).sorted(by: >) {
                let fileName = WALRange.segmentName(timeline: Int(tli), segment: segment, segmentSize: segmentSize)
                if let bytes = try repository.fetchWAL(name: fileName, cluster: cluster) { return bytes }
                if let bytes = try repository.fetchWAL(name: fileName + ".partial", cluster: cluster) { return bytes }
            }
            return nil
        }
    }

    /// Restore points named `name` between `from` and `through` (nil: the end of the archive), along the lineage
    /// of `timeline`, in WAL order.
    public static func find(_ name: String, in repository: BackupRepository, cluster: String, timeline: ArchivedTimeline?,
                            backupTimeline: UInt32, from: UInt64, through: UInt64?, segmentSize: UInt64) throws -> [Found] {
        let lineage = Lineage(target: timeline?.timeline ?? backupTimeline, branches: timeline?.history?.ancestors ?? [])
        let reader = WALReader(segmentSize: segmentSize,
                               load: segments(of: repository, cluster: cluster, lineage: lineage, segmentSize: segmentSize))
        var found: [Found] = []
        // From the start of the segment (a position inside a record cannot be read from), keeping what is after `from`.
        try reader.scan(from: from / segmentSize * segmentSize, through: through) { record in
            guard record.lsn >= from, record.resourceManager == 0, record.info & 0xF0 == 0x70,
                  let main = record.mainData(), main.count >= 8 + 64 else { return }
            let data = Array(main)
            var micros: Int64 = 0
            for index in 0..<8 { micros |= Int64(data[index]) << (8 * index) }
            let nameBytes = data[8..<(8 + 64)].prefix { $0 != 0 }
            guard String(decoding: nameBytes, as: UTF8.self) == name else { return }
            found.append(Found(lsn: record.lsn, time: Date(timeIntervalSince1970: 946_684_800 + Double(micros) / 1e6)))
        }
        // Between two backups (or before the newest archived segment) the WAL must be whole: a missing segment
        // there is a gap, not "no restore point".
        let newest = timeline?.newestSegment.flatMap { WALRange.segmentNumber($0, segmentSize: segmentSize) }
        if found.isEmpty, let missing = reader.missingSegment,
           through.map({ missing * segmentSize < $0 }) ?? (newest.map { missing < $0 } ?? false) {
            let name = WALRange.segmentName(timeline: Int(lineage.timeline(at: missing * segmentSize)), segment: missing,
                                            segmentSize: segmentSize)
            throw RepositoryError(.damaged, "WAL segment \(name) of cluster \(cluster) is missing from the archive: "
                + "the restore point cannot be searched for past it", hint: "run `lifeboat verify` to see the gap")
        }
        return found
    }
}

extension RestorePoints {
    /// The time of the newest transaction commit or abort in the last segment before `segment` (searching back to
    /// `first`) that has any: PostgreSQL stops at a time target at the first commit or abort after it, so a target
    /// older than this time is reached before `segment`. nil when none of those segments has one.
    public static func lastTransactionTime(before segment: UInt64, from first: UInt64, in repository: BackupRepository,
                                           cluster: String, timeline: ArchivedTimeline?, backupTimeline: UInt32,
                                           segmentSize: UInt64) throws -> Date? {
        let lineage = Lineage(target: timeline?.timeline ?? backupTimeline, branches: timeline?.history?.ancestors ?? [])
        let load = segments(of: repository, cluster: cluster, lineage: lineage, segmentSize: segmentSize)
        let reader = WALReader(segmentSize: segmentSize) { number in number < segment ? try load(number) : nil }
        var current = segment
        while current > first {
            current -= 1
            var newest: Date?
            try reader.scan(from: current * segmentSize, through: (current + 1) * segmentSize) { record in
                // RM_XACT_ID: XLOG_XACT_COMMIT, _ABORT, _COMMIT_PREPARED, _ABORT_PREPARED; xact_time comes first.
                guard record.resourceManager == 1, [0x00, 0x20, 0x30, 0x40].contains(record.info & 0x70),
                      let main = record.mainData(), main.count >= 8 else { return }
                let data = Array(main.prefix(8))
                var micros: Int64 = 0
                for index in 0..<8 { micros |= Int64(data[index]) << (8 * index) }
                let time = Date(timeIntervalSince1970: 946_684_800 + Double(micros) / 1e6)
                if newest.map({ time > $0 }) ?? true { newest = time }
            }
            if let newest { return newest }
        }
        return nil
    }
}

/// One WAL record: where it starts, its resource manager and info bits, and its body (after the 24-byte header).
struct WALRecord {
    var lsn: UInt64
    var resourceManager: UInt8
    var info: UInt8
    var body: [UInt8]

    /// The record's main data, when it has no block references (`XLR_BLOCK_ID_DATA_SHORT`/`_LONG` after the
    /// optional origin and top-level transaction headers).
    func mainData() -> ArraySlice<UInt8>? {
        var index = 0
        while index < body.count {
            let id = body[index]
            index += 1
            switch id {
            case 255:
                guard index < body.count else { return nil }
                let length = Int(body[index])
                index += 1
                return body.count - length >= index ? body[(body.count - length)...] : nil
            case 254:
                guard index + 4 <= body.count else { return nil }
                var length = 0
                for offset in 0..<4 { length |= Int(body[index + offset]) << (8 * offset) }
                index += 4
                return body.count - length >= index ? body[(body.count - length)...] : nil
            case 253: index += 2
            case 252: index += 4
            default: return nil
            }
        }
        return nil
    }
}

/// Reads WAL records in order across pages and segments.
final class WALReader {
    /// The WAL block size: 8 KiB unless the cluster was built otherwise (each segment's long header says).
    private var pageSize: UInt64 = 8192
    static let shortHeader: UInt64 = 24
    static let longHeader: UInt64 = 40
    static let firstIsContinuation: UInt16 = 0x0001

    let segmentSize: UInt64
    let load: (UInt64) throws -> [UInt8]?
    private var segmentNumber: UInt64?
    private var segment: [UInt8]?

    init(segmentSize: UInt64, load: @escaping (UInt64) throws -> [UInt8]?) {
        self.segmentSize = segmentSize
        self.load = load
    }

    /// Positions the scan could not read although it was asked to (a missing segment).
    private(set) var missingSegment: UInt64?

    private func bytes(at position: UInt64) throws -> [UInt8]? {
        let number = position / segmentSize
        if segmentNumber != number {
            segmentNumber = number
            segment = try load(number)
            if let segment, let header = WALSegmentHeader(Array(segment.prefix(WALSegmentHeader.size))) {
                pageSize = UInt64(header.blockSize)
            } else if segment == nil {
                missingSegment = number
            }
        }
        return segment
    }

    /// The page header at `page` (a page's start): its flags and remaining-continuation length; nil when the page
    /// is not WAL written at this position (the end of what was written).
    private func header(_ page: UInt64) throws -> (info: UInt16, remaining: UInt32, size: UInt64)? {
        guard let data = try bytes(at: page) else { return nil }
        let offset = Int(page % segmentSize)
        guard offset + 24 <= data.count else { return nil }
        func integer<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            var value: T = 0
            for index in 0..<MemoryLayout<T>.size { value |= T(data[offset + at + index]) << (8 * index) }
            return value
        }
        let magic: UInt16 = integer(0, UInt16.self)
        let address: UInt64 = integer(8, UInt64.self)
        guard magic & 0xFF00 == 0xD100, address == page else { return nil }
        let size = page % segmentSize == 0 ? Self.longHeader : Self.shortHeader
        return (integer(2, UInt16.self), integer(16, UInt32.self), size)
    }

    /// `count` bytes of the WAL stream from `position` (page headers skipped); the position after them.
    private func read(_ count: Int, at start: UInt64) throws -> ([UInt8], UInt64)? {
        var position = start
        var result: [UInt8] = []
        result.reserveCapacity(count)
        while result.count < count {
            if position % pageSize == 0 {
                guard let header = try header(position) else { return nil }
                position += header.size
            }
            guard let data = try bytes(at: position) else { return nil }
            let pageEnd = (position / pageSize + 1) * pageSize
            let take = Int(min(UInt64(count - result.count), pageEnd - position))
            let offset = Int(position % segmentSize)
            guard offset + take <= data.count else { return nil }
            result.append(contentsOf: data[offset..<(offset + take)])
            position += UInt64(take)
        }
        return (result, position)
    }

    private static func align(_ position: UInt64) -> UInt64 { (position + 7) & ~7 }

    /// Calls `body` for each record from `from` (a segment's start, or a record's start) to `through`. Stops at the
    /// end of the WAL written; `missingSegment` tells when that end is a segment the archive does not have.
    func scan(from: UInt64, through: UInt64?, _ body: (WALRecord) throws -> Void) throws {
        var position = from
        // Starting at a page with a record's continuation: skip to the first record that starts on it.
        if position % pageSize == 0 {
            var page = position
            while true {
                guard let header = try header(page) else { return }
                if header.info & Self.firstIsContinuation == 0 {
                    position = page + header.size
                    break
                }
                let room = pageSize - header.size
                if UInt64(header.remaining) < room {
                    position = Self.align(page + header.size + UInt64(header.remaining))
                    break
                }
                page += pageSize
            }
        }
        var previous: UInt64?
        while through.map({ position < $0 }) ?? true {
            position = Self.align(position)
            if position % pageSize == 0 {
                guard let header = try header(position) else { return }
                position += header.size
            }
            let start = position
            guard let (head, afterHead) = try read(24, at: start) else { return }
            var length: UInt32 = 0
            for index in 0..<4 { length |= UInt32(head[index]) << (8 * index) }
            var prev: UInt64 = 0
            for index in 0..<8 { prev |= UInt64(head[8 + index]) << (8 * index) }
            // The end of what was written: no record here, or one that does not follow the one before.
            guard length >= 24, length < 1 << 30, previous.map({ prev == $0 }) ?? true else { return }
            guard let (rest, after) = try read(Int(length) - 24, at: afterHead) else { return }
            let record = WALRecord(lsn: start, resourceManager: head[17], info: head[16], body: rest)
            try body(record)
            previous = start
            position = after
            if record.resourceManager == 0 && record.info & 0xF0 == 0x40 {
                // XLOG_SWITCH: the rest of the segment is unused (the record may also end right at its end).
                position = (position + segmentSize - 1) / segmentSize * segmentSize
            }
        }
    }
}
