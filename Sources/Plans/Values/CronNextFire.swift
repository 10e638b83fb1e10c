import Foundation

extension CronExpression {
    /// An expression that never fires (placeholder while a plan with a broken schedule is reported).
    static let never: CronExpression = try! CronExpression(parsing: "0 0 31 2 *")

    /// The first time after `instant` at which the expression fires in `zone`, or nil within five years.
    ///
    /// Daylight-saving rules:
    /// - a wall-clock time that does not exist (the clock springs forward over it) fires once, at the first valid
    ///   minute after the gap — several such times on one night fire once together;
    /// - a wall-clock time that occurs twice (the clock falls back) fires once, at its first occurrence.
    public func nextFire(after instant: Date, in zone: TimeZone) -> Date? {
        let start = Int64(floor(instant.timeIntervalSince1970))
        let local = start + Int64(zone.secondsFromGMT(for: instant))
        var day = Self.floorDiv(local, 86_400)
        let startDay = day
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        while day < startDay + 5 * 366 {
            let (year, month, dayOfMonth) = Self.civil(fromDays: day)
            _ = year
            let weekday = Int(((day % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4)
            if months.contains(month), matchesDay(dayOfMonth, weekday: weekday) {
                for hour in sortedHours {
                    for minute in sortedMinutes {
                        let wall = day * 86_400 + Int64(hour * 3600 + minute * 60)
                        if let fire = Self.instant(wall: wall, in: zone), fire > start {
                            return Date(timeIntervalSince1970: TimeInterval(fire))
                        }
                    }
                }
            }
            day += 1
        }
        return nil
    }

    /// The next `count` fire times after `instant`.
    public func nextFires(after instant: Date, in zone: TimeZone, count: Int) -> [Date] {
        var result: [Date] = []
        var cursor = instant
        while result.count < count, let next = nextFire(after: cursor, in: zone) {
            result.append(next)
            cursor = next
        }
        return result
    }

    func matchesDay(_ day: Int, weekday: Int) -> Bool {
        let dayOfMonthMatches = daysOfMonth.contains(day)
        let dayOfWeekMatches = daysOfWeek.contains(weekday) || (weekday == 0 && daysOfWeek.contains(7))
        switch (dayOfMonthIsWildcard, dayOfWeekIsWildcard) {
        case (true, true): return true
        case (false, true): return dayOfMonthMatches
        case (true, false): return dayOfWeekMatches
        case (false, false): return dayOfMonthMatches || dayOfWeekMatches
        }
    }

    /// The instant (epoch seconds) of a wall-clock time (seconds since 1970-01-01 00:00 local): its first occurrence,
    /// or for a time inside a spring-forward gap, the end of the gap.
    static func instant(wall: Int64, in zone: TimeZone) -> Int64? {
        let before = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall - 86_400))))
        let after = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(wall + 86_400))))
        let candidates = Set([before, after]).map { wall - $0 }.filter { candidate in
            Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(candidate)))) == wall - candidate
        }
        if let first = candidates.min() { return first }
        // In a gap: the clock jumps at the transition; that instant is the first valid minute after the time.
        let earliest = wall - max(before, after)
        guard let transition = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(earliest - 1)))
        else { return nil }
        return Int64(transition.timeIntervalSince1970)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
    static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
