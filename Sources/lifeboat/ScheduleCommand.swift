import ArgumentParser
import Engine
import Foundation
import Plans
import LifeboatCore

struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Each scheduled plan's next times, in its time zone and in UTC.",
        discussion: """
            Daylight saving: a time the clock skips runs once at the first minute after the gap; a time that occurs \
            twice runs once, the first time.
            """
    )

    @Option(help: "The plans folder (default: $LIFEBOAT_PLANS, else /etc/lifeboat/plans).")
    var plans: String?

    @Option(help: "How many next times per plan.")
    var next: Int = 3

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let directory = try PlanDirectory.load(PlanDirectory.resolve(plans))
        for broken in directory.broken { Console.diagnostics(broken.diagnostics) }
        let now = Date()
        struct Row: Encodable {
            var plan, file, cron, timezone, missed, overlap: String
            var nextLocal: [String]
            var nextUtc: [String]
        }
        let rows = directory.scheduled.map { plan -> Row in
            let schedule = plan.schedule!
            let zone = schedule.zone
            let times = schedule.cron.nextFires(after: now, in: zone, count: next)
            return Row(plan: plan.name, file: plan.file, cron: schedule.cron.source, timezone: schedule.zoneName,
                       missed: schedule.missed.rawValue, overlap: schedule.overlap.rawValue,
                       nextLocal: times.map { Self.local($0, zone) }, nextUtc: times.map { Formatted.timestamp($0) })
        }
        if json {
            try Console.json(rows)
        } else if rows.isEmpty {
            Console.out("no scheduled plans in \(directory.folder)")
        } else {
            var table: [[String]] = []
            for row in rows {
                for (index, local) in row.nextLocal.enumerated() {
                    table.append(index == 0 ? [row.plan, row.cron, row.timezone, local, row.nextUtc[index]]
                                            : ["", "", "", local, row.nextUtc[index]])
                }
            }
            Console.out(Console.table(["PLAN", "CRON", "TIME ZONE", "NEXT (LOCAL)", "NEXT (UTC)"], table))
        }
        if !directory.broken.isEmpty { throw ExitCode(ExitCodes.invalidInput) }
    }

    static func local(_ date: Date, _ zone: TimeZone) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: date)
    }
}
