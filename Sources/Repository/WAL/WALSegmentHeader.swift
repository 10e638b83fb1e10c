/// What the first page of a WAL segment says about itself: PostgreSQL's long page header
/// (`XLogLongPageHeaderData`, little-endian on the platforms Lifeboat runs on).
///
/// Layout: `xlp_magic` u16, `xlp_info` u16, `xlp_tli` u32, `xlp_pageaddr` u64, `xlp_rem_len` u32, 4 bytes of padding,
/// `xlp_sysid` u64 (byte 24), `xlp_seg_size` u32, `xlp_xlog_blcksz` u32.
public struct WALSegmentHeader: Sendable, Equatable {
    public var magic: UInt16
    public var timeline: UInt32
    /// The WAL position of the segment's first byte.
    public var pageAddress: UInt64
    /// The cluster the segment was written by.
    public var systemIdentifier: UInt64
    public var segmentSize: UInt32
    public var blockSize: UInt32

    /// Bytes of the long header that are read.
    public static let size = 40
    static let longHeaderFlag: UInt16 = 0x0002

    /// Parses the header at the start of `bytes`; nil when it is not the first page of a WAL segment (too short, no
    /// long-header flag, or sizes PostgreSQL cannot have). The magic number changes with PostgreSQL's major versions
    /// (0xD110 for 15); any of the 0xD1xx family (PostgreSQL 12 and later) is accepted, older ones are not.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.size else { return nil }
        func integer<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            var value: T = 0
            for index in 0..<MemoryLayout<T>.size { value |= T(bytes[offset + index]) << (8 * index) }
            return value
        }
        let info: UInt16 = integer(2, UInt16.self)
        magic = integer(0, UInt16.self)
        timeline = integer(4, UInt32.self)
        pageAddress = integer(8, UInt64.self)
        systemIdentifier = integer(24, UInt64.self)
        segmentSize = integer(32, UInt32.self)
        blockSize = integer(36, UInt32.self)
        guard info & Self.longHeaderFlag != 0, magic & 0xFF00 == 0xD100,
              segmentSize >= 1 << 20, segmentSize <= 1 << 30, segmentSize.nonzeroBitCount == 1,
              blockSize >= 1 << 10, blockSize <= 1 << 16, blockSize.nonzeroBitCount == 1,
              pageAddress % UInt64(segmentSize) == 0, systemIdentifier != 0 else { return nil }
    }
}
