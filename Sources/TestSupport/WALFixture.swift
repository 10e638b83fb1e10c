import Repository
import LifeboatCrypto

/// WAL segment bytes for unit tests of the archive: the long page header PostgreSQL 15 writes at the start of
/// each segment (magic, flags, timeline, position, system identifier, sizes), then `body`. Tests with real servers
/// archive real segments; these let the archive's checks be tested without one.
public enum WALFixture {
    public static func segment(_ name: String, systemIdentifier: UInt64, segmentSize: Int = 16 << 20,
                               random: Bool = false, pageAddress: UInt64? = nil) -> [UInt8] {
        let number = WALRange.segmentNumber(String(name.prefix(24)), segmentSize: UInt64(segmentSize)) ?? 0
        var bytes = random ? SecureRandom.bytes(segmentSize) : [UInt8](repeating: 0, count: segmentSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            for index in 0..<MemoryLayout<T>.size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
        }
        put(UInt16(0xD110), at: 0)
        put(UInt16(0x0002), at: 2)
        put(UInt32(name.prefix(8), radix: 16) ?? 1, at: 4)
        put(pageAddress ?? number * UInt64(segmentSize), at: 8)
        put(UInt32(0), at: 16)
        put(UInt32(0), at: 20)
        put(systemIdentifier, at: 24)
        put(UInt32(segmentSize), at: 32)
        put(UInt32(8192), at: 36)
        return bytes
    }
}
