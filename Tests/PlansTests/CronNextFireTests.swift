import Foundation
import Plans
import Testing

@Suite("Next fire times: month ends, leap years, day OR weekday, daylight saving")
struct CronNextFireTests {
    func date(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    func next(_ expression: String, after: String, zone: String = "UTC", count: Int = 1) throws -> [String] {
        let formatter = ISO8601DateFormatter()
        return try CronExpression(parsing: expression)
            .nextFires(after: date(after), in: TimeZone(identifier: zone)!, count: count)
            .map { formatter.string(from: $0) }
    }

    @Test("plain cases", arguments: [
        ("@hourly", "2026-11-26T10:59:30Z", ["2026-11-26T11:00:00Z"]),
        ("30 2 * * *", "2026-11-26T02:30:00Z", ["2026-11-27T02:30:00Z"]),
        ("0 0 31 * *", "2026-04-01T00:00:00Z", ["2026-05-31T00:00:00Z"]),
        ("0 12 29 2 *", "2026-01-01T00:00:00Z", ["2028-02-29T12:00:00Z"]),
        ("0 9 13 * 5", "2026-11-26T12:00:00Z", ["2026-11-27T09:00:00Z"]),          // Friday
        ("0 9 13 * 5", "2026-12-12T10:00:00Z", ["2026-12-13T09:00:00Z"]),          // the 13th, a Sunday
        ("0 0 * * 0", "2026-11-26T00:00:00Z", ["2026-11-29T00:00:00Z"]),           // Sunday
        ("0 0 1 1 *", "2026-12-31T23:59:59Z", ["2027-01-01T00:00:00Z"]),
        ("*/20 * * * *", "2026-11-26T10:05:00Z", ["2026-11-26T10:20:00Z"]),
    ])
    func plain(_ expression: String, _ after: String, _ expected: [String]) throws {
        #expect(try next(expression, after: after) == expected)
    }

    @Test("an expression that never fires has no next time")
    func never() throws {
        #expect(try next("0 0 30 2 *", after: "2026-01-01T00:00:00Z").isEmpty)
    }

    @Test("spring forward in Berlin: a time in the gap fires once at 03:00; the gap's other times do not fire again")
    func springForwardBerlin() throws {
        // 2026-03-29 02:00 CET becomes 03:00 CEST (01:00Z).
        #expect(try next("30 2 * * *", after: "2026-03-28T12:00:00Z", zone: "Europe/Berlin", count: 2)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
        #expect(try next("*/15 2 * * *", after: "2026-03-28T12:00:00Z", zone: "Europe/Berlin", count: 2)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"])
    }

    @Test("fall back in Berlin: a repeated time fires once, at its first occurrence")
    func fallBackBerlin() throws {
        // 2026-10-25 03:00 CEST becomes 02:00 CET (01:00Z); 02:30 happens at 00:30Z and again at 01:30Z.
        #expect(try next("30 2 * * *", after: "2026-10-24T12:00:00Z", zone: "Europe/Berlin", count: 2)
            == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        // Every quarter hour across the repeated hour: the second pass (01:00Z-01:59Z) is skipped.
        let quarterly = try next("*/15 * * * *", after: "2026-10-25T00:50:00Z", zone: "Europe/Berlin", count: 3)
        #expect(quarterly == ["2026-10-25T02:00:00Z", "2026-10-25T02:15:00Z", "2026-10-25T02:30:00Z"])
    }

    @Test("New York: spring forward and fall back")
    func newYork() throws {
        // 2026-03-08 02:00 EST becomes 03:00 EDT (07:00Z).
        #expect(try next("30 2 * * *", after: "2026-03-07T12:00:00Z", zone: "America/New_York", count: 2)
            == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
        // 2026-11-01 02:00 EDT becomes 01:00 EST (06:00Z); 01:30 happens at 05:30Z and 06:30Z.
        #expect(try next("30 1 * * *", after: "2026-10-31T12:00:00Z", zone: "America/New_York", count: 2)
            == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    }
}
