import Foundation
import Repository
import Synchronization

/// What every `ObjectStore` must do, checked the same way for each backend (a folder, a bucket, a bucket behind
/// a faulty network). Each check throws a `FixtureError` naming what the store got wrong.
public enum StoreConformance {
    public static func check(_ store: any ObjectStore) throws {
        try readsAndWrites(store)
        try createNewNeverOverwrites(store)
        try ranges(store)
        try listing(store)
        try uploads(store)
        try locks(store)
    }

    static func expect(_ condition: Bool, _ what: @autoclosure () -> String) throws {
        if !condition { throw FixtureError("store conformance: \(what())") }
    }

    static func readsAndWrites(_ store: any ObjectStore) throws {
        try expect(try store.read("conformance/missing") == nil, "reading a missing object gives nil")
        try expect(try store.size("conformance/missing") == nil, "a missing object has no size")
        try expect(try !store.exists("conformance/missing"), "a missing object does not exist")
        try expect(try store.modificationTime("conformance/missing") == nil, "a missing object has no time")
        let before = Date().addingTimeInterval(-2)
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try expect(try store.write("conformance/a/object", bytes, mode: .replace), "a write reports success")
        try expect(try store.read("conformance/a/object") == bytes, "an object reads back as written")
        try expect(try store.size("conformance/a/object") == bytes.count, "size is the byte count")
        try expect(try store.exists("conformance/a/object"), "a written object exists")
        let time = try store.modificationTime("conformance/a/object")
        try expect(time.map { $0 >= before && $0 <= Date().addingTimeInterval(2) } == true,
                   "the object's time is when it was written (got \(String(describing: time)))")
        try expect(try store.write("conformance/a/object", [1, 2, 3], mode: .replace), "replace succeeds")
        try expect(try store.read("conformance/a/object") == [1, 2, 3], "replace replaces")
        try expect(try store.write("conformance/empty", [], mode: .replace), "an empty object can be written")
        try expect(try store.read("conformance/empty") == [], "an empty object reads back empty, not nil")
        try store.remove("conformance/a/object")
        try expect(try store.read("conformance/a/object") == nil, "a removed object is gone")
        try store.remove("conformance/a/object")  // removing twice is fine
    }

    static func createNewNeverOverwrites(_ store: any ObjectStore) throws {
        try expect(try store.write("conformance/once", [1], mode: .createNew), "createNew creates")
        try expect(try !store.write("conformance/once", [2], mode: .createNew), "createNew on a taken name says so")
        try expect(try store.read("conformance/once") == [1], "createNew never replaces content")
    }

    static func ranges(_ store: any ObjectStore) throws {
        let bytes = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        try store.write("conformance/ranged", bytes, mode: .replace)
        try expect(try store.read("conformance/ranged", offset: 0, count: 10) == Array(bytes[0..<10]), "a range at the start")
        try expect(try store.read("conformance/ranged", offset: 65_000, count: 4_000) == Array(bytes[65_000..<69_000]),
                   "a range in the middle")
        try expect(try store.read("conformance/ranged", offset: 69_990, count: 100) == Array(bytes[69_990...]),
                   "a range past the end gives what there is")
        try expect(try store.read("conformance/ranged", offset: 80_000, count: 10) == [], "a range beyond the end is empty")
        try expect(try store.read("conformance/nothing", offset: 0, count: 10) == nil, "a range of a missing object is nil")

        // Packs may be read through larger windows: small reads anywhere, across window edges, concurrently.
        let pack = (0..<(3 << 20) + 12_345).map { UInt8(truncatingIfNeeded: ($0 >> 3) &* 13 &+ $0) }
        try store.write("packs/00/conformance", pack, mode: .replace)
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 24) { number in
            let offset = (number * 48_611) % (pack.count - 1000)
            let count = [1, 100, 131_072, 700_000][number % 4]
            let expected = Array(pack[offset..<min(pack.count, offset + count)])
            if (try? store.read("packs/00/conformance", offset: offset, count: count)) != expected {
                failures.withLock { $0.append("\(count) bytes at \(offset)") }
            }
        }
        try expect(failures.withLock { $0.isEmpty }, "ranges of a pack read back exactly: \(failures.withLock { $0 })")
        try expect(try store.read("packs/00/conformance", offset: pack.count - 10, count: 100) == Array(pack.suffix(10)),
                   "a pack range past its end gives what there is")
        try store.write("packs/00/conformance", [9, 9, 9], mode: .replace)
        try expect(try store.read("packs/00/conformance", offset: 1, count: 2) == [9, 9], "a replaced object reads anew")
        try store.remove("packs/00/conformance")
        try expect(try store.read("packs/00/conformance", offset: 0, count: 2) == nil, "a removed object reads as missing")
    }

    static func listing(_ store: any ObjectStore) throws {
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for number in stride(from: worker, to: 1_005, by: 8) {
                do {
                    try store.write(String(format: "conformance/many/%02x/%05d", number % 3, number),
                                    [UInt8(number & 0xff)], mode: .createNew)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        try expect(failures.withLock { $0.isEmpty }, "concurrent writes succeed: \(failures.withLock { $0.first ?? "" })")
        try expect(try store.list("conformance/many") == ["00", "01", "02"], "list gives the names directly below")
        let all = try store.listAll("conformance/many")
        try expect(all.count == 1_005, "listAll finds every object below, past one page of 1000 (got \(all.count))")
        try expect(all.allSatisfy { $0.size == 1 } && all.first?.path == "conformance/many/00/00000",
                   "listAll gives paths from the root and sizes")
        try expect(try store.list("conformance/none").isEmpty, "listing a missing folder is empty")
        try expect(try store.listAll("conformance/none").isEmpty, "listing all of a missing folder is empty")
    }

    static func uploads(_ store: any ObjectStore) throws {
        // Large enough to need several parts of a multipart upload (parts are at least 5 MiB).
        var big = [UInt8](repeating: 0, count: 13 << 20)
        for index in stride(from: 0, to: big.count, by: 4096) { big[index] = UInt8(truncatingIfNeeded: index >> 12) }
        let upload = try store.upload("conformance/uploaded")
        for start in stride(from: 0, to: big.count, by: 1 << 20) {
            try upload.append(Array(big[start..<min(big.count, start + (1 << 20))]))
        }
        try expect(try !store.exists("conformance/uploaded"), "an upload is invisible until committed")
        try upload.commit()
        try store.makeDurable()
        try expect(try store.size("conformance/uploaded") == big.count, "a committed upload has its full size")
        try expect(try store.read("conformance/uploaded", offset: 9 << 20, count: 8192) == Array(big[(9 << 20)..<((9 << 20) + 8192)]),
                   "a committed upload reads back across part boundaries")

        let abandoned = try store.upload("conformance/abandoned")
        try abandoned.append(Array(big[0..<(6 << 20)]))
        abandoned.abort()
        try expect(try !store.exists("conformance/abandoned"), "an aborted upload leaves no object")
        try expect(try store.list("conformance").allSatisfy { !$0.hasPrefix(".") }, "list hides temporaries")
    }

    static func locks(_ store: any ObjectStore) throws {
        do {
            let shared = try store.lock(.shared, timeout: 0)
            let another = try store.lock(.shared, timeout: 0)
            do {
                _ = try store.lock(.exclusive, timeout: 0)
                throw FixtureError("store conformance: an exclusive lock was granted while shared ones were held")
            } catch let error as RepositoryError {
                try expect(error.message.contains("in use by a backup"), "the refusal says why (\(error.message))")
            }
            withExtendedLifetime((shared, another)) {}
        }
        let exclusive = try store.lock(.exclusive, timeout: 0)
        do {
            _ = try store.lock(.shared, timeout: 0)
            throw FixtureError("store conformance: a shared lock was granted while an exclusive one was held")
        } catch is RepositoryError {}
        withExtendedLifetime(exclusive) {}
    }
}
