import ArgumentParser
import Engine
import Repository

struct RepoExpireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Remove backups a retention policy does not keep, the WAL only they needed, and unused chunks.",
        discussion: "The newest backup is always kept. --dry-run shows what would go."
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("keep-last")) var last: Int?
    @Option(name: .customLong("keep-daily")) var daily: Int?
    @Option(name: .customLong("keep-weekly")) var weekly: Int?
    @Option(name: .customLong("keep-monthly")) var monthly: Int?
    @Option(name: .customLong("keep-yearly")) var yearly: Int?

    @Flag(name: .customLong("dry-run"), help: "Show what would be removed; remove nothing.")
    var dryRun = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let policy = RetentionPolicy(last: last, daily: daily, weekly: weekly, monthly: monthly, yearly: yearly)
        let opened = try repository.open()
        let report: ExpireReport = try LifeboatError.wrapping { () throws(RepositoryError) in try opened.expire(policy, dryRun: dryRun) }
        if json {
            try Console.json(report)
        } else {
            Console.out("\(dryRun ? "would keep" : "kept") \(report.kept.count) backups, "
                + "\(dryRun ? "would remove" : "removed") \(report.removed.count)"
                + (report.removed.isEmpty ? "" : " (\(report.removed.joined(separator: ", ")))")
                + " and \(report.walRemoved) WAL files")
        }
    }
}
