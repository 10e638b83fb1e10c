import Foundation
@testable import Postgres
import TestSupport
import Testing

/// `TarReader` on its own: archives written by GNU tar (`/usr/bin/tar`) where a real writer can make the case, and
/// headers built here where only a hand-made (broken or hostile) header can.
@Suite("The tar reader")
struct TarReaderTests {
    // MARK: - Real tar output

    @Test("ustar from GNU tar: files, an empty file, folders and a symlink, with modes, sizes, mtimes and content")
    func ustarEntries() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("data/hello.txt", "hello\n", mode: 0o640)
        try folder.file("data/empty", "", mode: 0o600)
        try folder.file("data/base/16384/1259", String(repeating: "0123456789", count: 100), mode: 0o600)
        try folder.link("data/current", to: "base/16384")
        let parsed = try TarReaderTests.parse(folder.tar("ustar", ["data"]))

        #expect(parsed.finished)
        #expect(parsed.entries.map(\.path) == [
            "data", "data/base", "data/base/16384", "data/base/16384/1259", "data/current", "data/empty",
            "data/hello.txt",
        ])
        let byPath = Dictionary(uniqueKeysWithValues: parsed.entries.map { ($0.path, $0) })
        #expect(byPath["data"]?.kind == .directory)
        #expect(byPath["data/base/16384"]?.kind == .directory)
        #expect(byPath["data/hello.txt"] == TarEntry(path: "data/hello.txt", kind: .file, mode: 0o640, size: 6,
                                                     mtime: 1_700_000_000))
        #expect(byPath["data/empty"]?.size == 0)
        #expect(byPath["data/empty"]?.mode == 0o600)
        #expect(byPath["data/base/16384/1259"]?.size == 1000)
        #expect(byPath["data/current"] == TarEntry(path: "data/current", kind: .symlink, mode: 0o777, size: 0,
                                                   mtime: 1_700_000_000, linkTarget: "base/16384"))
        // Every file, the empty one too, ends with `.endOfFile`; its content is exactly its bytes (no padding).
        #expect(parsed.files == [
            "data/base/16384/1259": Array(String(repeating: "0123456789", count: 100).utf8),
            "data/empty": [],
            "data/hello.txt": Array("hello\n".utf8),
        ])
        #expect(parsed.events.filter { $0 == .endOfFile }.count == 3)
    }

    @Test("the events do not depend on how the stream is cut into pieces (1, 7, 511, 513 bytes or all at once)")
    func feedInPieces() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("d/a", String(repeating: "a", count: 511))
        try folder.file("d/b", String(repeating: "b", count: 513))
        try folder.file("d/c", "")
        try folder.link("d/l", to: "a")
        let archive = try folder.tar("ustar", ["d"])
        let whole = try TarReaderTests.parse(archive)
        #expect(whole.files["d/a"]?.count == 511 && whole.files["d/b"]?.count == 513)
        for piece in [1, 7, 511, 513] {
            let pieces = try TarReaderTests.parse(archive, piece: piece)
            #expect(pieces.events == whole.events, "pieces of \(piece) bytes")
            #expect(pieces.finished)
        }
    }

    @Test("ustar paths longer than 100 bytes are split by tar into prefix and name and joined again")
    func ustarPrefix() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        let deep = String(repeating: "p", count: 90) + "/" + String(repeating: "q", count: 50)
        try folder.file(deep + "/" + String(repeating: "n", count: 90), "x")
        let parsed = try TarReaderTests.parse(folder.tar("ustar", [String(repeating: "p", count: 90)]))
        let path = deep + "/" + String(repeating: "n", count: 90)
        #expect(path.utf8.count > 100)
        #expect(parsed.entries.map(\.path) == [String(repeating: "p", count: 90), deep, path])
        #expect(parsed.files[path] == Array("x".utf8))
    }

    @Test("GNU long names (type L) name the next entry, a file's and a folder's; the stream goes on after them")
    func gnuLongNames() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        let longFolder = "d/" + String(repeating: "f", count: 110)
        let longFile = longFolder + "/" + String(repeating: "é", count: 70)  // 140 UTF-8 bytes
        try folder.file(longFile, "long\n")
        try folder.file("d/short", "short\n")
        let parsed = try TarReaderTests.parse(folder.tar("gnu", ["d"]))
        #expect(parsed.finished)
        #expect(parsed.entries.map(\.path) == ["d", longFolder, longFile, "d/short"])
        #expect(parsed.entries.map(\.kind) == [.directory, .directory, .file, .file])
        #expect(parsed.files == [longFile: Array("long\n".utf8), "d/short": Array("short\n".utf8)])
    }

    @Test("a GNU long link name (type K) is refused, not cut to 100 bytes")
    func gnuLongLinkRefused() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("d/a", "a")
        try folder.link("d/z-link", to: String(repeating: "t", count: 130))
        let outcome = TarReaderTests.parseUntilError(try folder.tar("gnu", ["d"]))
        let error = try #require(outcome.error as? TarReader.FormatError)
        #expect(error.description.contains("unsupported tar entry type 75"), "\(error)")
        #expect(outcome.entries.map(\.path) == ["d", "d/a"])
        #expect(!outcome.entries.contains { $0.kind == .symlink })
    }

    @Test("pax archives (extended headers, here with a long name and a long link) are refused, nothing half-named")
    func paxRefused() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        let longName = "d/" + String(repeating: "x", count: 150)
        try folder.file(longName, "pax")
        try folder.link("d/link", to: String(repeating: "y", count: 150))
        let archive = try folder.tar("pax", [longName, "d/link"])
        // GNU tar really wrote extended headers.
        #expect(archive[156] == UInt8(ascii: "x"))
        let outcome = TarReaderTests.parseUntilError(archive)
        let error = try #require(outcome.error as? TarReader.FormatError)
        #expect(error.description.contains("unsupported tar entry type 120"), "\(error)")
        #expect(outcome.entries.isEmpty)
    }

    @Test("hard links are refused")
    func hardLinkRefused() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("d/a", "same")
        try FileManager.default.linkItem(atPath: folder.source + "/d/a", toPath: folder.source + "/d/b")
        let outcome = TarReaderTests.parseUntilError(try folder.tar("ustar", ["d/a", "d/b"]))
        let error = try #require(outcome.error as? TarReader.FormatError)
        #expect(error.description.contains("unsupported tar entry type 49"), "\(error)")
        #expect(outcome.entries.map(\.path) == ["d/a"])
        #expect(outcome.files == ["d/a": Array("same".utf8)])
    }

    // MARK: - Cut streams

    @Test("a stream cut inside a file's data: the entry and the bytes that came, no end of file, not finished")
    func cutInsideData() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("big", String(repeating: "z", count: 1000))
        let archive = try folder.tar("ustar", ["big"])
        let parsed = try TarReaderTests.parse(Array(archive.prefix(512 + 300)))
        #expect(parsed.entries == [TarEntry(path: "big", kind: .file, mode: 0o644, size: 1000, mtime: 1_700_000_000)])
        #expect(parsed.events == [
            .entry(parsed.entries[0]), .content(Array(repeating: UInt8(ascii: "z"), count: 300)),
        ])
        #expect(!parsed.events.contains(.endOfFile))
        #expect(parsed.files.isEmpty)
        #expect(!parsed.finished)
    }

    @Test("a stream cut inside a header reports nothing of it and is not finished; the rest of the header resumes it")
    func cutInsideHeader() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("d/1", "one")
        try folder.file("d/2", "two")
        let archive = try folder.tar("ustar", ["d/1", "d/2"])
        let cut = 512 + 512 + 200  // header and data of d/1, then 200 bytes of d/2's header
        var reader = TarReader()
        var recorder = Recorder()
        try recorder.feed(Array(archive.prefix(cut)), into: &reader)
        #expect(recorder.entries.map(\.path) == ["d/1"])
        #expect(recorder.files == ["d/1": Array("one".utf8)])
        #expect(!reader.isFinished)
        try recorder.feed(Array(archive.dropFirst(cut)), into: &reader)
        #expect(recorder.entries.map(\.path) == ["d/1", "d/2"])
        #expect(recorder.files == ["d/1": Array("one".utf8), "d/2": Array("two".utf8)])
        #expect(reader.isFinished)
    }

    @Test("the end of the archive is two zero blocks: one is not enough, and anything after the second is ignored")
    func endOfArchive() throws {
        let file = TarReaderTests.header("f", size: 2) + TarReaderTests.block(Array("ok".utf8))
        let zero = [UInt8](repeating: 0, count: 512)

        let one = try TarReaderTests.parse(file + zero)
        #expect(one.files == ["f": Array("ok".utf8)])
        #expect(!one.finished)

        let ignoredAfterEnd = TarReaderTests.header("after", size: 0) + [UInt8](repeating: 0x41, count: 700)
        let two = try TarReaderTests.parse(file + zero + zero + ignoredAfterEnd)
        #expect(two.finished)
        #expect(two.entries.map(\.path) == ["f"])

        // Only zero blocks: an empty archive, finished, no entries.
        let empty = try TarReaderTests.parse(zero + zero)
        #expect(empty.finished && empty.events.isEmpty)
        // Nothing at all is not a finished archive.
        let nothing = try TarReaderTests.parse([])
        #expect(!nothing.finished && nothing.events.isEmpty)
    }

    // MARK: - Damaged headers

    @Test("a header whose checksum does not match is refused before anything of it is reported")
    func badChecksum() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("a", "first")
        try folder.file("b", "second")
        var archive = try folder.tar("ustar", ["a", "b"])
        archive[1024] = UInt8(ascii: "c")  // the second header's name: "b" becomes "c"
        let outcome = TarReaderTests.parseUntilError(archive)
        let error = try #require(outcome.error as? TarReader.FormatError)
        #expect(error.description == "tar header checksum mismatch")
        #expect(outcome.entries.map(\.path) == ["a"])

        var stored = TarReaderTests.header("f", size: 0)
        stored[150] = stored[150] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")  // the checksum itself
        #expect(throws: TarReader.FormatError.self) { try TarReaderTests.parse(stored) }
    }

    @Test("a size that is not octal is refused")
    func badOctal() throws {
        let header = TarReaderTests.header("f", sizeField: Array("0000000012x\0".utf8))
        let error = #expect(throws: TarReader.FormatError.self) { try TarReaderTests.parse(header) }
        #expect(error?.description == "bad octal number in tar header")
    }

    @Test("hand-made headers: old-style (NUL type) files, folders named with a slash, base-256 sizes and mtimes")
    func handMadeHeaders() throws {
        let content = [UInt8](repeating: 7, count: 600)
        var base256Size = [UInt8](repeating: 0, count: 12)
        base256Size[0] = 0x80
        base256Size[10] = 0x02
        base256Size[11] = 0x58  // 600
        var base256Time = [UInt8](repeating: 0, count: 12)
        base256Time[0] = 0x80
        base256Time[6] = 0x01  // 2^40, beyond what 11 octal digits hold (8^11 = 2^33)
        let archive = TarReaderTests.header("old", type: 0, size: 3) + TarReaderTests.block(Array("v7!".utf8))
            + TarReaderTests.header("pg_wal/", type: UInt8(ascii: "5"), mode: 0o700)
            + TarReaderTests.header("large", sizeField: base256Size, mtimeField: base256Time)
            + TarReaderTests.block(content)
        let parsed = try TarReaderTests.parse(archive)
        #expect(parsed.entries == [
            TarEntry(path: "old", kind: .file, mode: 0o644, size: 3, mtime: 1_700_000_000),
            TarEntry(path: "pg_wal", kind: .directory, mode: 0o700, size: 0, mtime: 1_700_000_000),
            TarEntry(path: "large", kind: .file, mode: 0o644, size: 600, mtime: 1 << 40),
        ])
        #expect(parsed.files == ["old": Array("v7!".utf8), "large": content])
    }

    // MARK: - Bugs: these expect the fail-closed behaviour

    @Test("a negative base-256 size is refused (not reported as a file of -1 bytes without an end)")
    func negativeSizeRefused() throws {
        let minusOne = [UInt8](repeating: 0xff, count: 12)
        let outcome = TarReaderTests.parseUntilError(TarReaderTests.header("f", sizeField: minusOne))
        #expect(outcome.error is TarReader.FormatError, "reported instead: \(outcome.entries)")
        #expect(outcome.entries.isEmpty)
    }

    @Test("a base-256 size beyond 64 bits is refused (not wrapped round to a smaller size)")
    func oversizedSizeRefused() throws {
        var huge = [UInt8](repeating: 0, count: 12)
        huge[0] = 0x80
        huge[1] = 0x01  // 2^80, which wraps to 0 in 64 bits
        let outcome = TarReaderTests.parseUntilError(TarReaderTests.header("f", sizeField: huge))
        #expect(outcome.error is TarReader.FormatError, "reported instead: \(outcome.entries)")
        #expect(outcome.entries.isEmpty)
    }

    @Test("a base-256 mode beyond 32 bits is refused, not a crash")
    func oversizedModeRefused() throws {
        var mode = [UInt8](repeating: 0, count: 8)
        mode[0] = 0x80
        mode[2] = 0x01  // 2^40
        let outcome = TarReaderTests.parseUntilError(TarReaderTests.header("f", modeField: mode))
        #expect(outcome.error is TarReader.FormatError, "reported instead: \(outcome.entries)")
        #expect(outcome.entries.isEmpty)
    }

    @Test("an empty GNU long name (type L, size 0) does not swallow the next file's content as a name")
    func emptyLongName() throws {
        let archive = TarReaderTests.header("././@LongLink", type: UInt8(ascii: "L"), size: 0)
            + TarReaderTests.header("f", size: 5) + TarReaderTests.block(Array("hello".utf8))
            + TarReaderTests.header("g", size: 0)
            + [UInt8](repeating: 0, count: 1024)
        let outcome = TarReaderTests.parseUntilError(archive)
        if outcome.error is TarReader.FormatError { return }  // refusing the archive is right too
        #expect(outcome.error == nil)
        #expect(outcome.files == ["f": Array("hello".utf8), "g": []], "events: \(outcome.events)")
        #expect(outcome.entries.map(\.path) == ["f", "g"])
    }

    @Test("a GNU long name with no entry after it is refused, not dropped at the end of the archive")
    func danglingLongName() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        let name = String(repeating: "l", count: 120)
        try folder.file(name, "lost")
        let archive = try folder.tar("gnu", [name])
        #expect(archive[156] == UInt8(ascii: "L"))
        // The long-name header and its one data block, then the end of the archive.
        let outcome = TarReaderTests.parseUntilError(Array(archive.prefix(1024)) + [UInt8](repeating: 0, count: 1024))
        #expect(outcome.entries.isEmpty)
        #expect(outcome.error is TarReader.FormatError, "finished: \(outcome.finished), no entry, no error")
    }

    @Test("GNU-format headers carry times, not a path prefix, where ustar has its prefix (tar --format=gnu -G)")
    func gnuHeaderIsNotUstar() throws {
        let folder = try TarFolder()
        defer { folder.remove() }
        try folder.file("d/f", "x")
        // Incremental mode fills the GNU header's atime and ctime fields (offsets 345 and 357).
        let archive = try folder.tar("gnu", ["d/f"], extra: ["--incremental"])
        #expect(Array(archive[257..<265]) == Array("ustar  \0".utf8))
        #expect(archive[345] != 0)
        let parsed = try TarReaderTests.parse(archive)
        #expect(parsed.entries.map(\.path) == ["d/f"])
        #expect(parsed.files == ["d/f": Array("x".utf8)])
    }
}

// MARK: - Helpers

extension TarReaderTests {
    enum Recorded: Equatable, CustomStringConvertible {
        case entry(TarEntry)
        case content([UInt8])
        case endOfFile

        var description: String {
            switch self {
            case .entry(let entry): "entry(\(entry.path), \(entry.kind), \(entry.size))"
            case .content(let bytes): "content(\(bytes.count) bytes)"
            case .endOfFile: "endOfFile"
            }
        }
    }

    /// Events as they came, adjacent content merged (so that how the input was cut does not show).
    struct Recorder {
        var events: [Recorded] = []

        mutating func feed(_ bytes: [UInt8], into reader: inout TarReader, piece: Int = .max) throws {
            var start = 0
            while start < bytes.count {
                let end = start + min(piece, bytes.count - start)
                try bytes[start..<end].withUnsafeBytes { raw in
                    try reader.feed(raw) { event in
                        switch event {
                        case .entry(let entry): events.append(.entry(entry))
                        case .content(let slice):
                            if case .content(let earlier) = events.last {
                                events[events.count - 1] = .content(earlier + Array(slice))
                            } else {
                                events.append(.content(Array(slice)))
                            }
                        case .endOfFile: events.append(.endOfFile)
                        }
                    }
                }
                start = end
            }
        }

        var entries: [TarEntry] {
            events.compactMap { if case .entry(let entry) = $0 { entry } else { nil } }
        }

        /// The content of every file that got to its `.endOfFile`.
        var files: [String: [UInt8]] {
            var files: [String: [UInt8]] = [:]
            var current: (path: String, bytes: [UInt8])?
            for event in events {
                switch event {
                case .entry(let entry): current = entry.kind == .file ? (entry.path, []) : nil
                case .content(let bytes): current?.bytes += bytes
                case .endOfFile:
                    if let done = current { files[done.path] = done.bytes }
                    current = nil
                }
            }
            return files
        }
    }

    struct Parsed {
        var recorder: Recorder
        var finished: Bool
        var error: (any Error)?

        var events: [Recorded] { recorder.events }
        var entries: [TarEntry] { recorder.entries }
        var files: [String: [UInt8]] { recorder.files }
    }

    static func parse(_ bytes: [UInt8], piece: Int = .max) throws -> Parsed {
        var reader = TarReader()
        var recorder = Recorder()
        try recorder.feed(bytes, into: &reader, piece: piece)
        return Parsed(recorder: recorder, finished: reader.isFinished)
    }

    /// Like `parse`, keeping what was reported before an error.
    static func parseUntilError(_ bytes: [UInt8]) -> Parsed {
        var reader = TarReader()
        var recorder = Recorder()
        do {
            try recorder.feed(bytes, into: &reader)
            return Parsed(recorder: recorder, finished: reader.isFinished)
        } catch {
            return Parsed(recorder: recorder, finished: reader.isFinished, error: error)
        }
    }

    /// A ustar header (magic `ustar\0`, version `00`) with a correct checksum.
    static func header(_ name: String, type: UInt8 = UInt8(ascii: "0"), size: Int = 0, mode: Int = 0o644,
                       link: String = "", modeField: [UInt8]? = nil, sizeField: [UInt8]? = nil,
                       mtimeField: [UInt8]? = nil) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: 512)
        func put(_ bytes: [UInt8], at offset: Int) {
            for (index, byte) in bytes.enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int, digits: Int) -> [UInt8] {
            let text = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, digits - text.count)) + text).utf8) + [0]
        }
        put(Array(name.utf8), at: 0)
        put(modeField ?? octal(mode, digits: 7), at: 100)
        put(octal(0, digits: 7), at: 108)
        put(octal(0, digits: 7), at: 116)
        put(sizeField ?? octal(size, digits: 11), at: 124)
        put(mtimeField ?? octal(1_700_000_000, digits: 11), at: 136)
        block[156] = type
        put(Array(link.utf8), at: 157)
        put(Array("ustar\0".utf8) + Array("00".utf8), at: 257)
        put([UInt8](repeating: 32, count: 8), at: 148)
        let sum = block.reduce(0) { $0 + Int($1) }
        put(octal(sum, digits: 6) + [32], at: 148)
        return block
    }

    /// `bytes` padded with zeros to whole 512-byte blocks.
    static func block(_ bytes: [UInt8]) -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: (512 - bytes.count % 512) % 512)
    }
}

/// A temp folder with a `src` tree to archive with GNU tar.
struct TarFolder {
    let directory: TemporaryDirectory
    var source: String { directory.path + "/src" }

    init() throws {
        directory = try TemporaryDirectory(prefix: "lifeboat-tar")
        try FileManager.default.createDirectory(atPath: directory.path + "/src", withIntermediateDirectories: true)
    }

    func remove() { directory.remove() }

    func file(_ path: String, _ text: String, mode: Int = 0o644) throws {
        let target = source + "/" + path
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: target, contents: Data(text.utf8)) else {
            throw FixtureError("cannot write \(target)")
        }
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: target)
    }

    func link(_ path: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: source + "/" + path, withDestinationPath: destination)
    }

    /// `tar --format=<format>` of `members` (relative to `src`), deterministic: sorted names, one mtime, owner 0.
    func tar(_ format: String, _ members: [String], extra: [String] = []) throws -> [UInt8] {
        let output = directory.path + "/archive-\(format).tar"
        try? FileManager.default.removeItem(atPath: output)
        let result = try ProcessRunner.run("/usr/bin/tar", [
            "--format=\(format)", "--sort=name", "--mtime=@1700000000", "--owner=0", "--group=0", "--numeric-owner",
        ] + extra + ["-cf", output, "-C", source] + members)
        guard result.status == 0 else { throw FixtureError("tar --format=\(format) failed: \(result.stderr)") }
        return Array(try Data(contentsOf: URL(fileURLWithPath: output)))
    }
}
