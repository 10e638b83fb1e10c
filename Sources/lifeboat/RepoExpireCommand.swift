import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct RepoExpireCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "expire",
        abstract: "Remove backups a retention policy does not keep, the WAL only they needed, and unused chunks.",
        discussion: """
            The policy applies to each cluster in the repository on its own: --keep-last 1 keeps the newest backup \
            of every cluster (the newest backup of a cluster is always kept). --cluster limits it to one. \
            --dry-run shows what would go.
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("keep-last")) var last: Int?
    @Option(name: .customLong("keep-daily")) var daily: Int?
    @Option(name: .customLong("keep-weekly")) var weekly: Int?
    @Option(name: .customLong("keep-monthly")) var monthly: Int?
    @Option(name: .customLong("keep-yearly")) var yearly: Int?

    @Option(help: "Only this cluster: a name its backups were taken under, or its system identifier.")
    var cluster: String?

    @Option(name: .customLong("end-lease"), help: "End this recovery lease first (a recovery known to be over); repeatable.")
    var endLeases: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Show what would be removed; remove nothing.")
    var dryRun = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let policy = RetentionPolicy(last: last, daily: daily, weekly: weekly, monthly: monthly, yearly: yearly)
        let opened = try repository.open()
        let report: ExpireReport = try LifeboatError.wrapping { () throws(RepositoryError) in
            for id in endLeases where !dryRun {
                guard try opened.recoveryLeases().contains(where: { $0.id == id }) else {
                    throw RepositoryError(.notFound, "no live recovery lease \(id) in \(opened.location)")
                }
                try opened.endRecoveryLease(id)
            }
            let chosen = try cluster.map { selector throws(RepositoryError) in try opened.resolveCluster(selector, withBackups: true) }
            return try opened.expire(policy, cluster: chosen?.systemIdentifier, dryRun: dryRun)
        }
        if json {
            try Console.json(report)
            return
        }
        for cluster in report.clusters {
            Console.out("\(cluster.name) (\(cluster.systemIdentifier)): \(dryRun ? "would keep" : "kept") \(cluster.kept.count) backups, "
                + "\(dryRun ? "would remove" : "removed") \(cluster.removed.count)"
                + (cluster.removed.isEmpty ? "" : " (\(cluster.removed.joined(separator: ", ")))")
                + " and \(cluster.walRemoved) WAL files")
        }
        if report.clusters.isEmpty { Console.out("no backups in \(opened.location)") }
    }
}
