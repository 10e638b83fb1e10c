import Foundation
import LifeboatCore
import Testing

@Suite("formatting: durations, sizes and instants")
struct FormattedTests {
    static let durationCases: [(Double, String)] = [
        (0.0, "0s"), (0.0004, "0s"), (0.0005, "0.001s"), (0.035, "0.035s"), (0.4, "0.4s"), (1.25, "1.25s"),
        (14.2371, "14.237s"), (59.9994, "59.999s"), (59.9996, "1m"), (60, "1m"), (200, "3m20s"), (3599.4, "59m59s"),
        (3599.6, "1h"), (3720, "1h2m"), (3_725, "1h2m"), (86_399, "1d"), (2 * 86_400 + 3 * 3600, "2d3h"),
        (-5, "0s"), (.nan, "0s"),
    ]

    @Test("durations: milliseconds below a minute, never 0ms for a real 0.4s", arguments: durationCases)
    func durations(seconds: Double, text: String) {
        #expect(Formatted.duration(seconds) == text)
    }

    @Test("a Swift Duration is written the same way")
    func swiftDuration() {
        #expect(Formatted.duration(Duration.milliseconds(400)) == "0.4s")
        #expect(Formatted.duration(Duration.seconds(90)) == "1m30s")
    }

    static let sizeCases: [(Int64, String)] = [
        (0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), ((1 << 20) - 1, "1.0 MiB"),
        (16 << 20, "16.0 MiB"), ((5 << 30) + (1 << 29), "5.5 GiB"), (-2048, "-2.0 KiB"), (Int64.max, "8.0 EiB"),
    ]

    @Test("sizes in binary units, one decimal above a KiB", arguments: sizeCases)
    func sizes(count: Int64, text: String) {
        #expect(Formatted.bytes(count) == text)
    }

    @Test("rates")
    func rates() {
        #expect(Formatted.rate(0) == "0 B/s")
        #expect(Formatted.rate(.infinity) == "0 B/s")
        #expect(Formatted.rate(48.2 * 1_048_576) == "48.2 MiB/s")
    }

    @Test("instants: RFC 3339 UTC with T, to the second or the millisecond")
    func instants() {
        let time = Date(timeIntervalSince1970: 1_795_660_200)  // 2026-11-26T02:30:00Z
        #expect(Formatted.timestamp(time) == "2026-11-26T02:30:00Z")
        #expect(Formatted.timestamp(time.addingTimeInterval(0.9999)) == "2026-11-26T02:30:00Z")
        #expect(Formatted.timestamp(nil as Date?) == "-")
        #expect(Formatted.preciseTimestamp(time.addingTimeInterval(0.123)) == "2026-11-26T02:30:00.123Z")
        #expect(Formatted.preciseTimestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Formatted.compactTimestamp(time) == "20261126T023000Z")
        #expect(Formatted.timestamp(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }

    @Test("a precise instant read back writes the same text again")
    func preciseRoundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let milliseconds = Int64.random(in: 0..<4_102_444_800_000, using: &generator)
            let text = Formatted.preciseTimestamp(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            let read = try #require(Formatted.parseTimestamp(text))
            #expect(Formatted.preciseTimestamp(read) == text)
        }
    }

    @Test("reading instants: with or without fractions and offsets; anything else is nil")
    func parsing() {
        #expect(Formatted.parseTimestamp("2026-11-26T02:30:00Z")?.timeIntervalSince1970 == 1_795_660_200)
        #expect(Formatted.parseTimestamp("2026-11-26T03:30:00+01:00")?.timeIntervalSince1970 == 1_795_660_200)
        #expect(Formatted.parseTimestamp("2026-11-26T02:30:00.500Z")?.timeIntervalSince1970 == 1_795_660_200.5)
        for bad in ["", "yesterday", "2026-11-26", "2026-13-01T00:00:00Z", "20261126T023000Z"] {
            #expect(Formatted.parseTimestamp(bad) == nil, "\(bad)")
        }
        #expect(Formatted.parseCompactTimestamp("20261126T023000Z")?.timeIntervalSince1970 == 1_795_660_200)
        for bad in ["", "20260231T000000Z", "2026112XT023000Z", "20261126T023000", "20261126T243000Z",
                    "2026-11-26T02:30:00Z", "20261126T023000Zx"] {
            #expect(Formatted.parseCompactTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test("JSON: snake_case names from Swift names, RFC 3339 instants, read back")
    func json() throws {
        struct Document: Codable, Equatable {
            var runId: String
            var startedAt: Date
            var bytesPerSecond: Double
        }
        let document = Document(runId: "r1", startedAt: Date(timeIntervalSince1970: 1_795_660_200), bytesPerSecond: 2)
        let text = String(decoding: try LifeboatJSON.encoder(pretty: false).encode(document), as: UTF8.self)
        #expect(text == #"{"bytes_per_second":2,"run_id":"r1","started_at":"2026-11-26T02:30:00Z"}"#)
        #expect(try LifeboatJSON.decoder().decode(Document.self, from: Data(text.utf8)) == document)
        #expect(throws: DecodingError.self) {
            try LifeboatJSON.decoder().decode(Document.self, from: Data(#"{"bytes_per_second":2,"run_id":"r1","started_at":"soon"}"#.utf8))
        }
    }
}
