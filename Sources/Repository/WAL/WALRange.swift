/// Log sequence numbers and the WAL segment files they fall in.
public enum WALRange {
    /// Parses `16/B374D848` into a 64-bit position.
    public static func parse(_ lsn: String) -> UInt64? {
        let parts = lsn.split(separator: "/")
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16),
              high <= UInt32.max, low <= UInt32.max else { return nil }
        return high << 32 | low
    }

    /// A position as PostgreSQL writes it: `16/B374D848`.
    public static func format(_ position: UInt64) -> String {
        String(position >> 32, radix: 16, uppercase: true) + "/" + String(position & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    /// The segment file name holding `position` on `timeline`.
    public static func segmentName(timeline: Int, position: UInt64, segmentSize: UInt64) -> String {
        segmentName(timeline: timeline, segment: position / segmentSize, segmentSize: segmentSize)
    }

    public static func segmentName(timeline: Int, segment: UInt64, segmentSize: UInt64) -> String {
        segmentName(timeline: hex8(UInt64(timeline)), segment: segment, segmentSize: segmentSize)
    }

    /// The same with the timeline as its 8 hex digits.
    public static func segmentName(timeline: String, segment: UInt64, segmentSize: UInt64) -> String {
        let perId = 0x1_0000_0000 / segmentSize
        return timeline + hex8(segment / perId) + hex8(segment % perId)
    }

    /// The position of a segment file name within its timeline, or nil when it is not a segment name.
    public static func segmentNumber(_ name: String, segmentSize: UInt64) -> UInt64? {
        guard name.utf8.count == 24, let high = UInt64(name.dropFirst(8).prefix(8), radix: 16),
              let low = UInt64(name.suffix(8), radix: 16) else { return nil }
        return high * (0x1_0000_0000 / segmentSize) + low
    }

    /// The segments a backup needs: from the one holding its start LSN to the one holding the byte before its stop
    /// LSN (as PostgreSQL's own end-of-backup archive wait counts them).
    public static func required(timeline: Int, start: String, stop: String, segmentSize: UInt64) -> [String]? {
        guard let first = parse(start), let last = parse(stop), last > first else { return nil }
        let from = first / segmentSize, through = (last - 1) / segmentSize
        return (from...through).map { segmentName(timeline: timeline, segment: $0, segmentSize: segmentSize) }
    }

    /// 8 uppercase hex digits, as in WAL file names.
    public static func hex8(_ value: UInt64) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}
