import LifeboatCrypto
/// One chunk object inside a pack file: where it starts and how long it is.
struct PackEntry: Sendable {
    var key: ChunkKey
    var offset: UInt32
    var length: UInt32

    var end: Int { Int(offset) + Int(length) }
}

/// A pack file and the chunk objects it holds, in file order.
struct PackRecord: Sendable {
    /// 32 hex digits; the file is `packs/<first 2>/<id>`.
    var id: String
    var entries: [PackEntry]

    var path: String { Self.path(id) }
    static func path(_ id: String) -> String { "packs/\(id.prefix(2))/\(id)" }

    /// Bytes of chunk objects (the pack file adds its trailer).
    var objectBytes: Int { entries.reduce(0) { $0 + Int($1.length) } }
}

/// The plaintext of an index object (a list of packs) and of a pack's trailer (one pack): `"LBX1"`, then per pack
/// its 16-byte id, a little-endian UInt32 entry count and per entry the 32-byte chunk id, UInt32 offset, UInt32 length.
enum PackListEncoding {
    static let magic: [UInt8] = Array("LBX1".utf8)
    static let entrySize = 40

    static func encode(_ records: [PackRecord]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(4 + records.reduce(0) { $0 + 20 + $1.entries.count * entrySize })
        for record in records {
            out += Hex.decode(record.id) ?? []
            append(UInt32(record.entries.count), to: &out)
            for entry in record.entries {
                out += entry.key.bytes
                append(entry.offset, to: &out)
                append(entry.length, to: &out)
            }
        }
        return out
    }

    /// nil when the bytes are not a pack list (the object is damaged or of another version).
    static func decode(_ bytes: [UInt8]) -> [PackRecord]? {
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else { return nil }
        return bytes.withUnsafeBytes { raw -> [PackRecord]? in
            var records: [PackRecord] = []
            var position = 4
            while position < raw.count {
                guard raw.count - position >= 20 else { return nil }
                let id = Hex.encode(raw[position..<(position + 16)])
                let count = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position + 16, as: UInt32.self)))
                position += 20
                guard (raw.count - position) / entrySize >= count else { return nil }
                var entries: [PackEntry] = []
                entries.reserveCapacity(count)
                for _ in 0..<count {
                    let key = ChunkKey(UnsafeRawBufferPointer(rebasing: raw[position..<(position + 32)]))
                    let offset = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position + 32, as: UInt32.self))
                    let length = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: position + 36, as: UInt32.self))
                    entries.append(PackEntry(key: key, offset: offset, length: length))
                    position += entrySize
                }
                records.append(PackRecord(id: id, entries: entries))
            }
            return records
        }
    }

    static func append(_ value: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }
}
