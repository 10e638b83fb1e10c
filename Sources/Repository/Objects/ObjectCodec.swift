import LifeboatCrypto
/// What an object is; bound into its encryption so that objects cannot be swapped for one another.
public struct ObjectKind: RawRepresentable, Hashable, Sendable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let chunk = ObjectKind(rawValue: "chunk")
    public static let manifest = ObjectKind(rawValue: "manifest")
    public static let wal = ObjectKind(rawValue: "wal")
    /// Which pack holds which chunk.
    public static let index = ObjectKind(rawValue: "index")
    /// The list of chunks at the end of a pack file.
    public static let packTrailer = ObjectKind(rawValue: "pack")
}

/// Turns plaintext into a stored object and back: zstd (when it makes the object smaller), then AES-256-GCM with a
/// fresh random nonce.
///
/// Layout: `"LBO"`, format version (1), flags (bit 0: compressed), 12-byte nonce, ciphertext, 16-byte tag.
/// Associated data: the 5 header bytes, the repository id, the object's kind and its name — an object moved to
/// another name, kind or repository fails authentication.
struct ObjectCodec: Sendable {
    static let magic: [UInt8] = [0x4C, 0x42, 0x4F]  // "LBO"
    static let version: UInt8 = 1
    static let headerSize = 5 + AESGCM.nonceSize
    static let compressedFlag: UInt8 = 1
    /// Objects larger than this are refused when read (a WAL segment is 16 MiB; chunks are smaller).
    static let maximumPlaintext = 1 << 30

    let key: [UInt8]
    let repositoryId: String
    let compressionLevel: Int32

    /// Objects larger than this are first sampled: when a sample from their middle (a sixteenth, 8 to 64 KiB) does
    /// not shrink by 3 %, the object is stored uncompressed without a full compression pass. Random or encrypted
    /// data (bytea of random bytes, encrypted columns, their WAL) costs zstd up to 10 times more time per byte than
    /// compressible data, for nothing; on compressible data the sample adds about 6 %.
    static let sampleThreshold = 32 << 10

    static func sampleSize(_ count: Int) -> Int { min(64 << 10, max(8 << 10, count / 16)) }

    func seal(_ plaintext: UnsafeRawBufferPointer, kind: ObjectKind, name: String) -> [UInt8] {
        var worthCompressing = compressionLevel > 0
        if worthCompressing && plaintext.count > Self.sampleThreshold {
            let size = Self.sampleSize(plaintext.count)
            let start = (plaintext.count - size) / 2
            let sample = UnsafeRawBufferPointer(rebasing: plaintext[start..<(start + size)])
            worthCompressing = Zstd.compress(sample, level: compressionLevel).count * 100 < size * 97
        }
        let compressed = worthCompressing ? Zstd.compress(plaintext, level: compressionLevel) : nil
        let useCompressed = compressed.map { $0.count < plaintext.count } ?? false
        let flags: UInt8 = useCompressed ? Self.compressedFlag : 0
        let nonce = SecureRandom.bytes(AESGCM.nonceSize)
        let header = Self.magic + [Self.version, flags]
        let aad = associatedData(header: header, kind: kind, name: name)
        let sealed: [UInt8]
        if useCompressed, let compressed {
            sealed = compressed.withUnsafeBytes { AESGCM.seal(key: key, nonce: nonce, plaintext: $0, associatedData: aad) }
        } else {
            sealed = AESGCM.seal(key: key, nonce: nonce, plaintext: plaintext, associatedData: aad)
        }
        return header + nonce + sealed
    }

    func seal(_ plaintext: [UInt8], kind: ObjectKind, name: String) -> [UInt8] {
        plaintext.withUnsafeBytes { seal($0, kind: kind, name: name) }
    }

    /// The plaintext, or a `.damaged` error naming the object.
    func open(_ object: [UInt8], kind: ObjectKind, name: String) throws(RepositoryError) -> [UInt8] {
        guard object.count >= Self.headerSize + AESGCM.tagSize, Array(object[0..<3]) == Self.magic else {
            throw RepositoryError(.damaged, "\(kind.rawValue) \(name) is not a Lifeboat object (bad header or truncated)")
        }
        guard object[3] == Self.version else {
            throw RepositoryError(.damaged, "\(kind.rawValue) \(name) has object format \(object[3]), this Lifeboat reads \(Self.version)",
                                  hint: "use a newer Lifeboat")
        }
        let flags = object[4]
        let nonce = Array(object[5..<Self.headerSize])
        let aad = associatedData(header: Array(object[0..<5]), kind: kind, name: name)
        let opened = object.withUnsafeBytes { raw in
            AESGCM.open(key: key, nonce: nonce, sealed: UnsafeRawBufferPointer(rebasing: raw[Self.headerSize...]),
                        associatedData: aad)
        }
        guard let opened else {
            throw RepositoryError(.damaged, "\(kind.rawValue) \(name) fails authentication: it was changed, truncated or moved")
        }
        guard flags & Self.compressedFlag != 0 else { return opened }
        guard let plain = opened.withUnsafeBytes({ Zstd.decompress($0, limit: Self.maximumPlaintext) }) else {
            throw RepositoryError(.damaged, "\(kind.rawValue) \(name) does not decompress")
        }
        return plain
    }

    private func associatedData(header: [UInt8], kind: ObjectKind, name: String) -> [UInt8] {
        header + Array("lifeboat\0\(repositoryId)\0\(kind.rawValue)\0\(name)".utf8)
    }
}
