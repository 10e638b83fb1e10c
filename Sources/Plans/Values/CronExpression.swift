import LifeboatCore
/// A five-field cron expression (`minute hour day-of-month month day-of-week`) or an alias such as `@daily`.
///
/// Fields accept `*`, numbers, ranges (`1-5`), steps (`*/15`, `0-30/10`), lists (`1,15,30`) and English names for
/// months (`jan`-`dec`) and weekdays (`sun`-`sat`). Day of week 0 and 7 are both Sunday. As in Vixie cron, when both
/// day-of-month and day-of-week are restricted, a day matches if either matches.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    public var minutes: Set<Int>
    public var hours: Set<Int>
    public var daysOfMonth: Set<Int>
    public var months: Set<Int>
    /// 0 = Sunday ... 6 = Saturday.
    public var daysOfWeek: Set<Int>
    /// Whether the day-of-month / day-of-week fields were `*` (which changes how the two combine).
    public var dayOfMonthIsWildcard: Bool
    public var dayOfWeekIsWildcard: Bool
    /// The text as written.
    public var source: String

    public var description: String { source }

    public struct ParseError: LifeboatFailure, Sendable {
        public var message: String
        public var code: ErrorCode { .invalidInput }
        public var description: String { message }
    }

    public static let aliases: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(parsing text: String) throws(ParseError) {
        source = text
        var expression = text.trimmingSpaces
        if expression.hasPrefix("@") {
            guard let expanded = Self.aliases[expression.lowercased()] else {
                throw ParseError(message: "unknown cron alias '\(expression)' (known: "
                    + Self.aliases.keys.sorted().joined(separator: ", ") + ")")
            }
            expression = expanded
        }
        let fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ParseError(message: "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
                + "'\(text)' has \(fields.count)")
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59)
        hours = try Self.field(fields[1], name: "hour", range: 0...23)
        daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31)
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        let weekdays = try Self.field(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames, firstName: 0)
        daysOfWeek = Set(weekdays.map { $0 % 7 })
        dayOfMonthIsWildcard = fields[2].hasPrefix("*")
        dayOfWeekIsWildcard = fields[4].hasPrefix("*")
    }

    /// Whether the expression fires at this wall-clock minute.
    /// - Parameter weekday: 0 = Sunday ... 6 = Saturday.
    public func matches(minute: Int, hour: Int, day: Int, month: Int, weekday: Int) -> Bool {
        guard minutes.contains(minute), hours.contains(hour), months.contains(month) else { return false }
        let dayOfMonthMatches = daysOfMonth.contains(day)
        let dayOfWeekMatches = daysOfWeek.contains(weekday)
        switch (dayOfMonthIsWildcard, dayOfWeekIsWildcard) {
        case (true, true): return true
        case (false, true): return dayOfMonthMatches
        case (true, false): return dayOfWeekMatches
        case (false, false): return dayOfMonthMatches || dayOfWeekMatches
        }
    }

    private static func field(
        _ text: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(ParseError) -> Set<Int> {
        var values = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !part.isEmpty else { throw ParseError(message: "cron \(name) field '\(text)' has an empty list item") }
            var rangePart = part
            var step = 1
            if let slash = part.firstIndex(of: "/") {
                rangePart = String(part[..<slash])
                let stepText = String(part[part.index(after: slash)...])
                guard let parsed = Int(stepText), parsed > 0 else {
                    throw ParseError(message: "cron \(name) field '\(text)': step '\(stepText)' must be a positive number")
                }
                step = parsed
            }
            let bounds: ClosedRange<Int>
            if rangePart == "*" {
                bounds = range
            } else if let dash = rangePart.firstIndex(of: "-") {
                let low = try value(String(rangePart[..<dash]), name: name, field: text, range: range, names: names, firstName: firstName)
                let high = try value(String(rangePart[rangePart.index(after: dash)...]), name: name, field: text, range: range, names: names, firstName: firstName)
                guard low <= high else {
                    throw ParseError(message: "cron \(name) field '\(text)': range \(rangePart) goes backwards")
                }
                bounds = low...high
            } else {
                let single = try value(rangePart, name: name, field: text, range: range, names: names, firstName: firstName)
                // `5/15` means "from 5, every 15" as in Vixie cron.
                bounds = part.contains("/") ? single...range.upperBound : single...single
            }
            values.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: step))
        }
        return values
    }

    private static func value(
        _ text: String, name: String, field: String, range: ClosedRange<Int>, names: [String], firstName: Int
    ) throws(ParseError) -> Int {
        if let index = names.firstIndex(of: text.lowercased()) { return index + firstName }
        guard let number = Int(text) else {
            let extra = names.isEmpty ? "" : " or a name (\(names.first!)-\(names.last!))"
            throw ParseError(message: "cron \(name) field '\(field)': '\(text)' is not a number\(extra)")
        }
        guard range.contains(number) else {
            throw ParseError(message: "cron \(name) field '\(field)': \(number) is out of range "
                + "\(range.lowerBound)-\(range.upperBound)")
        }
        return number
    }
}
