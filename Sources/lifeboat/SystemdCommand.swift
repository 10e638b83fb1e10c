import ArgumentParser
import Engine
import Foundation
import Plans

struct SystemdCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "systemd", abstract: "systemd units.", subcommands: [SystemdPrintCommand.self])
}

struct SystemdPrintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print",
        abstract: "Print a service unit for the daemon, and (with --timers) timer/service pairs per plan instead.",
        discussion: "Timers use Persistent=true: a run missed while the host was down happens at the next boot."
    )

    @Option(help: "The plans folder (default: $LIFEBOAT_PLANS, else /etc/lifeboat/plans).")
    var plans: String?

    @Flag(help: "Print a timer and a service per scheduled plan instead of the daemon's unit.")
    var timers = false

    static var executable: String {
        LifeboatExecutable.path(fallback: "/usr/local/bin/lifeboat")
    }

    func run() throws {
        let folder = PlanDirectory.resolve(plans)
        guard timers else {
            Console.out("""
                # /etc/systemd/system/lifeboat.service
                [Unit]
                Description=Lifeboat scheduler (runs the plans in \(folder) on time)
                After=network-online.target postgresql.service
                Wants=network-online.target

                [Service]
                ExecStart=\(Self.executable) daemon --plans \(folder)
                ExecReload=/bin/kill -HUP $MAINPID
                KillSignal=SIGTERM
                TimeoutStopSec=15min
                Restart=on-failure

                [Install]
                WantedBy=multi-user.target
                """)
            return
        }
        let directory = try PlanDirectory.load(folder)
        var units: [String] = []
        for plan in directory.scheduled {
            let schedule = plan.schedule!
            guard let calendar = Self.onCalendar(schedule) else {
                Console.warning("\(plan.name): '\(schedule.cron.source)' has no systemd OnCalendar equivalent; use the daemon")
                continue
            }
            let file = (plan.file as NSString).isAbsolutePath ? plan.file
                : FileManager.default.currentDirectoryPath + "/" + plan.file
            units.append("""
                # /etc/systemd/system/lifeboat-\(plan.name).service
                [Unit]
                Description=Lifeboat plan \(plan.name)

                [Service]
                Type=oneshot
                ExecStart=\(Self.executable) run --trigger cron \(file)

                # /etc/systemd/system/lifeboat-\(plan.name).timer
                [Unit]
                Description=Lifeboat plan \(plan.name) on its schedule (\(schedule.cron.source), \(schedule.zoneName))

                [Timer]
                OnCalendar=\(calendar)
                Persistent=true
                \(schedule.jitter.map { "RandomizedDelaySec=\(Int($0.milliseconds / 1000))" } ?? "")

                [Install]
                WantedBy=timers.target
                """)
        }
        Console.out(units.joined(separator: "\n\n"))
    }

    /// `OnCalendar=` for simple expressions (lists of minutes, hours, days, months; weekdays when the day of month
    /// is `*`).
    static func onCalendar(_ schedule: Schedule) -> String? {
        let cron = schedule.cron
        guard cron.dayOfMonthIsWildcard || cron.dayOfWeekIsWildcard else { return nil }
        func list(_ values: Set<Int>, _ full: Int, width: Int = 2) -> String {
            values.count == full ? "*" : values.sorted().map { String(format: "%0\(width)d", $0) }.joined(separator: ",")
        }
        let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let weekdays = cron.dayOfWeekIsWildcard ? "" : Set(cron.daysOfWeek.map { $0 % 7 }).sorted().map { names[$0] }
            .joined(separator: ",") + " "
        return "\(weekdays)*-\(list(cron.months, 12))-\(list(cron.daysOfMonth, 31)) \(list(cron.hours, 24)):\(list(cron.minutes, 60)):00 "
            + schedule.zoneName
    }
}
