import Foundation

extension Formatted {
    /// `2026-12-02T05:54:00Z`: RFC 3339 in UTC, to the second. Every table, report, message and JSON document
    /// writes instants this way.
    public static func timestamp(_ date: Date) -> String {
        let (fields, _) = utc(date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", fields.year, fields.month, fields.day,
                      fields.hour, fields.minute, fields.second)
    }

    /// ``timestamp(_:)``, or `-` when there is no date.
    public static func timestamp(_ date: Date?) -> String {
        date.map { timestamp($0) } ?? "-"
    }

    /// `2026-12-02T05:54:00.123Z`: to the millisecond, for logs and timelines.
    public static func preciseTimestamp(_ date: Date) -> String {
        let (fields, milliseconds) = utc(date, precise: true)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", fields.year, fields.month, fields.day,
                      fields.hour, fields.minute, fields.second, milliseconds)
    }

    /// `20261202T055400Z`: for ids and object names, where `:` and `-` are in the way.
    public static func compactTimestamp(_ date: Date) -> String {
        let (fields, _) = utc(date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", fields.year, fields.month, fields.day,
                      fields.hour, fields.minute, fields.second)
    }

    /// Reads RFC 3339 / ISO 8601 with or without fractional seconds (`2026-12-02T05:54:00Z`,
    /// `2026-12-02T05:54:00.123+01:00`); nil for anything else.
    public static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }

    /// Reads ``compactTimestamp(_:)``'s form; nil for anything else.
    public static func parseCompactTimestamp(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int32(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
              let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let seconds = timegm(&parts)
        // timegm normalises 31 February into March: such a text is not a time.
        guard parts.tm_mday == day, parts.tm_mon == month - 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }

    private struct Fields { var year, month, day, hour, minute, second: Int32 }

    /// The UTC calendar fields of a date, and its milliseconds when `precise` (rounded to the nearest one, so that a
    /// time read back from its text writes the same text again); otherwise to the second, rounded down.
    private static func utc(_ date: Date, precise: Bool = false) -> (Fields, Int32) {
        let interval = date.timeIntervalSince1970
        var seconds: time_t
        var milliseconds: Int32 = 0
        if precise {
            let total = Int64((interval * 1000).rounded())
            let (quotient, remainder) = total.quotientAndRemainder(dividingBy: 1000)
            seconds = time_t(remainder < 0 ? quotient - 1 : quotient)
            milliseconds = Int32(remainder < 0 ? remainder + 1000 : remainder)
        } else {
            seconds = time_t(interval.rounded(.down))
        }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return (Fields(year: parts.tm_year + 1900, month: parts.tm_mon + 1, day: parts.tm_mday, hour: parts.tm_hour,
                       minute: parts.tm_min, second: parts.tm_sec), milliseconds)
    }
}
