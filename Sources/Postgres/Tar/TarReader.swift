import LifeboatCore
/// One entry of a tar stream as PostgreSQL's `BASE_BACKUP` writes it (ustar).
public struct TarEntry: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case file
        case directory
        case symlink
    }

    public var path: String
    public var kind: Kind
    public var mode: UInt32
    public var size: Int64
    /// Seconds since 1970.
    public var mtime: Int64
    public var linkTarget: String?
}

/// A push parser for tar streams: feed it bytes as they arrive; it reports entries and file content in order.
///
/// It keeps at most one 512-byte header in memory; file content is passed on in the slices it arrived in.
public struct TarReader {
    public enum Event {
        case entry(TarEntry)
        /// Content of the most recent `.entry(.file)`.
        case content(UnsafeRawBufferPointer)
        case endOfFile
    }

    /// A stream that is not a well-formed tar archive (what BASE_BACKUP sends): damaged input.
    public struct FormatError: LifeboatFailure, Sendable {
        public var description: String
        public var message: String { description }
        public var code: ErrorCode { .damaged }
    }

    private var header: [UInt8] = []
    private var remaining: Int64 = 0
    private var padding = 0
    private var finished = false
    private var zeroBlocks = 0
    private var pendingLongName: String?
    private var longNameBuffer: [UInt8]?

    /// The longest GNU long name accepted (PostgreSQL's paths are far shorter; PATH_MAX is 4096).
    static let longNameLimit: Int64 = 65_536

    public init() {}

    public var isFinished: Bool { finished }

    /// Parses `bytes`, calling `handle` for each event.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ handle: (Event) throws -> Void) throws {
        var offset = 0
        while offset < bytes.count {
            if finished { return }
            if remaining > 0 {
                let take = Int(min(Int64(bytes.count - offset), remaining))
                let slice = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)])
                if longNameBuffer != nil {
                    longNameBuffer!.append(contentsOf: slice)
                } else {
                    try handle(.content(slice))
                }
                remaining -= Int64(take)
                offset += take
                if remaining == 0 {
                    if let buffer = longNameBuffer {
                        pendingLongName = String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
                        longNameBuffer = nil
                    } else {
                        try handle(.endOfFile)
                    }
                }
                continue
            }
            if padding > 0 {
                let take = min(bytes.count - offset, padding)
                padding -= take
                offset += take
                continue
            }
            let take = min(bytes.count - offset, 512 - header.count)
            header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            if header.count == 512 {
                try parseHeader(handle)
                header.removeAll(keepingCapacity: true)
            }
        }
    }

    private mutating func parseHeader(_ handle: (Event) throws -> Void) throws {
        if header.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks == 2 {
                guard pendingLongName == nil else {
                    throw FormatError(description: "tar stream ends after a long name with no entry to name")
                }
                finished = true
            }
            return
        }
        zeroBlocks = 0
        guard checksumMatches() else { throw FormatError(description: "tar header checksum mismatch") }
        let type = header[156]
        var name = string(0, 100)
        let prefix = string(345, 155)
        // POSIX ustar ("ustar\0") has a name prefix at 345; GNU's header ("ustar  \0") keeps other fields there.
        if Array(header[257..<263]) == Array("ustar\0".utf8), !prefix.isEmpty { name = prefix + "/" + name }
        if let long = pendingLongName {
            name = long
            pendingLongName = nil
        }
        let size = try number(124, 12)
        let modeValue = try number(100, 8)
        guard modeValue <= Int64(UInt32.max) else { throw FormatError(description: "tar header of \(name): mode out of range") }
        let mode = UInt32(modeValue)
        let mtime = try number(136, 12)
        padding = Int((512 - size % 512) % 512)
        switch type {
        case UInt8(ascii: "0"), 0:
            remaining = size
            try handle(.entry(TarEntry(path: name, kind: .file, mode: mode, size: size, mtime: mtime)))
            if size == 0 { try handle(.endOfFile) }
        case UInt8(ascii: "5"):
            try handle(.entry(TarEntry(path: name.hasSuffix("/") ? String(name.dropLast()) : name, kind: .directory,
                                       mode: mode, size: 0, mtime: mtime)))
        case UInt8(ascii: "2"):
            try handle(.entry(TarEntry(path: name, kind: .symlink, mode: mode, size: 0, mtime: mtime,
                                       linkTarget: string(157, 100))))
        case UInt8(ascii: "L"):
            // GNU long name: the next entry's name is this entry's content.
            guard size > 0, size <= Self.longNameLimit else {
                throw FormatError(description: "tar long name of \(size) bytes (1 to \(Self.longNameLimit) allowed)")
            }
            remaining = size
            longNameBuffer = []
        default:
            throw FormatError(description: "unsupported tar entry type \(type) for \(name)")
        }
    }

    private func checksumMatches() -> Bool {
        guard let stored = try? number(148, 8) else { return false }
        var sum: Int64 = 0
        for (index, byte) in header.enumerated() {
            sum += (148..<156).contains(index) ? 32 : Int64(byte)
        }
        return sum == stored
    }

    private func string(_ start: Int, _ length: Int) -> String {
        String(decoding: header[start..<(start + length)].prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Octal, or base-256 (high bit set) for large values.
    private func number(_ start: Int, _ length: Int) throws -> Int64 {
        let field = header[start..<(start + length)]
        if let first = field.first, first & 0x80 != 0 {
            // Base-256, two's complement: a negative number (0x40 set) is never a valid size, mode or time here.
            guard first & 0x40 == 0 else { throw FormatError(description: "negative number in tar header") }
            var value: Int64 = Int64(first & 0x3f)
            for byte in field.dropFirst() {
                guard value <= Int64.max >> 8 else { throw FormatError(description: "number out of range in tar header") }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            if byte == 0 || byte == 32 { if seenDigit { break } else { continue } }
            guard (48...55).contains(byte) else { throw FormatError(description: "bad octal number in tar header") }
            value = value * 8 + Int64(byte - 48)
            seenDigit = true
        }
        return value
    }
}
