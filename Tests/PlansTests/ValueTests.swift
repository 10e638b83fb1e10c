import Plans
import Testing

@Suite("Durations, sizes, cron expressions and secret references")
struct ValueTests {
    @Test("durations parse in any combination of units, largest first", arguments: [
        ("90s", 90_000), ("15m", 900_000), ("1h", 3_600_000), ("1h30m", 5_400_000), ("500ms", 500),
        ("2d", 172_800_000), ("1w", 604_800_000), ("1h0m5s", 3_605_000), (" 45s ", 45_000),
    ] as [(String, Int64)])
    func durations(text: String, milliseconds: Int64) {
        #expect(PlanDuration(parsing: text)?.milliseconds == milliseconds)
    }

    @Test("bad durations are refused", arguments: ["", "5", "5 minutes", "m", "30m1h", "1h1h", "-5s", "1.5h", "99999999999999999999s"])
    func badDurations(text: String) {
        #expect(PlanDuration(parsing: text) == nil)
    }

    @Test("durations print in their shortest form")
    func durationText() {
        #expect(PlanDuration(milliseconds: 5_400_000).description == "1h30m")
        #expect(PlanDuration(milliseconds: 90_000).description == "1m30s")
        #expect(PlanDuration(milliseconds: 0).description == "0s")
        #expect(PlanDuration(milliseconds: 1_500).description == "1s500ms")
    }

    @Test("byte sizes accept binary and decimal units", arguments: [
        ("512", 512), ("64KiB", 65_536), ("16MiB", 16_777_216), ("1GB", 1_000_000_000), ("2 TiB", 2_199_023_255_552),
        ("10k", 10_000), ("3b", 3),
    ] as [(String, Int64)])
    func sizes(text: String, bytes: Int64) {
        #expect(ByteSize(parsing: text)?.bytes == bytes)
    }

    @Test("bad sizes are refused", arguments: ["", "MiB", "12 parsecs", "-1", "1.5GiB"])
    func badSizes(text: String) {
        #expect(ByteSize(parsing: text) == nil)
    }

    @Test("cron fields: lists, ranges, steps, names")
    func cronFields() throws {
        let cron = try CronExpression(parsing: "*/15 9-17 1,15 jan-mar mon-fri")
        #expect(cron.minutes == [0, 15, 30, 45])
        #expect(cron.hours == Set(9...17))
        #expect(cron.daysOfMonth == [1, 15])
        #expect(cron.months == [1, 2, 3])
        #expect(cron.daysOfWeek == [1, 2, 3, 4, 5])
        let stepped = try CronExpression(parsing: "5/20 0-6/3 * * 7")
        #expect(stepped.minutes == [5, 25, 45])
        #expect(stepped.hours == [0, 3, 6])
        #expect(stepped.daysOfWeek == [0])
    }

    @Test("cron aliases expand", arguments: [
        ("@daily", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"), ("@midnight", "0 0 * * *"),
    ])
    func cronAliases(alias: String, expansion: String) throws {
        let a = try CronExpression(parsing: alias)
        let b = try CronExpression(parsing: expansion)
        #expect(a.minutes == b.minutes && a.hours == b.hours && a.daysOfMonth == b.daysOfMonth
            && a.months == b.months && a.daysOfWeek == b.daysOfWeek)
    }

    @Test("cron matching combines day-of-month and day-of-week like Vixie cron")
    func cronMatching() throws {
        let either = try CronExpression(parsing: "0 12 1 * mon")
        #expect(either.matches(minute: 0, hour: 12, day: 1, month: 6, weekday: 3))  // the 1st
        #expect(either.matches(minute: 0, hour: 12, day: 9, month: 6, weekday: 1))  // a Monday
        #expect(!either.matches(minute: 0, hour: 12, day: 9, month: 6, weekday: 2))
        let daily = try CronExpression(parsing: "30 2 * * *")
        #expect(daily.matches(minute: 30, hour: 2, day: 9, month: 6, weekday: 2))
        #expect(!daily.matches(minute: 31, hour: 2, day: 9, month: 6, weekday: 2))
    }

    @Test("bad cron expressions say which field is wrong", arguments: [
        ("* * * *", "has 5 fields"), ("60 * * * *", "minute field '60': 60 is out of range 0-59"),
        ("* 24 * * *", "hour field"), ("* * 0 * *", "day-of-month field"), ("* * * 13 *", "month field"),
        ("* * * * 8", "day-of-week field"), ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-1 * * * *", "goes backwards"), ("* * * smarch *", "'smarch' is not a number or a name (jan-dec)"),
        ("@fortnightly", "unknown cron alias"), ("1,,2 * * * *", "empty list item"),
    ])
    func badCron(text: String, message: String) {
        #expect(throws: CronExpression.ParseError.self) { try CronExpression(parsing: text) }
        do {
            _ = try CronExpression(parsing: text)
        } catch {
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test("secret references resolve only through the given lookup and print as references")
    func templates() throws {
        let template = try TemplateString(parsing: "postgres://app:${env:PGPASSWORD}@db/${file:/run/dbname} $${x} $5")
        #expect(template.references == [.environment("PGPASSWORD"), .file("/run/dbname")])
        #expect(template.description == "postgres://app:${env:PGPASSWORD}@db/${file:/run/dbname} $${x} $5")
        #expect(template.literalValue == nil)
        let resolved = template.resolve { reference in
            switch reference {
            case .environment: "s3cret"
            case .file: "orders"
            }
        }
        #expect(resolved == "postgres://app:s3cret@db/orders ${x} $5")
        #expect(try TemplateString(parsing: "plain").literalValue == "plain")
    }
}
