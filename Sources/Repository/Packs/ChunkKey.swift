import LifeboatCrypto
/// A chunk id as 32 bytes: the compact form the pack index keeps in memory (manifests spell it as 64 hex digits).
struct ChunkKey: Hashable, Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32, "a chunk id has 32 bytes")
        words = (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    init?(hex: String) {
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        self = bytes.withUnsafeBytes { ChunkKey($0) }
    }

    var bytes: [UInt8] {
        withUnsafeBytes(of: words) { Array($0) }
    }

    var hex: String { Hex.encode(bytes) }

    static func == (lhs: ChunkKey, rhs: ChunkKey) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    func hash(into hasher: inout Hasher) {
        // The id is already a keyed hash: one word spreads as well as four.
        hasher.combine(words.0)
    }
}
