import ArgumentParser
import Engine
import Repository
import Foundation
import LifeboatCore

struct BackupListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List complete backups by cluster, oldest first.",
        discussion: """
            A repository may hold several PostgreSQL clusters; each is identified by its system identifier and \
            shown by the name its backups were last taken under. --cluster takes either.
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(help: "Only this cluster: a name its backups were taken under, or its system identifier.")
    var cluster: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let (summaries, clusters) = try LifeboatError.wrapping { () throws(RepositoryError) -> ([BackupSummary], [ClusterSummary]) in
            let manifests = try opened.manifests()
            let clusters = try opened.clusters(manifests: manifests)
            let chosen = try cluster.map { selector throws(RepositoryError) in try opened.resolveCluster(selector, among: clusters) }
            let names = Dictionary(clusters.map { ($0.systemIdentifier, $0.displayName) }, uniquingKeysWith: { a, _ in a })
            // By cluster (in name order), each oldest first.
            let shown = clusters.filter { chosen == nil || $0.systemIdentifier == chosen!.systemIdentifier }
                .flatMap { cluster in manifests.filter { $0.systemIdentifier == cluster.systemIdentifier } }
            return (shown.map { BackupSummary($0, clusterName: names[$0.systemIdentifier]) }, clusters)
        }
        if json {
            try Console.json(summaries)
            return
        }
        guard !summaries.isEmpty else {
            Console.out(cluster.map { "no backups of \($0) in \(opened.location)" } ?? "no backups in \(opened.location)")
            return
        }
        Console.out(Console.table(["BACKUP", "CLUSTER", "STARTED (UTC)", "DURATION", "SIZE", "NEW", "TIMELINE", "STOP LSN"],
                                  summaries.map { summary in
            [summary.id, summary.cluster, Formatted.timestamp(summary.startTime), Formatted.duration(summary.seconds),
             Formatted.bytes(summary.logicalBytes), Formatted.bytes(summary.newStoredBytes),
             String(summary.timeline), summary.stopLSN]
        }))
        let shown = Set(summaries.map(\.systemIdentifier))
        let listed = clusters.filter { shown.contains($0.systemIdentifier) }
        if listed.count > 1 || listed.contains(where: { $0.names.count > 1 }) {
            Console.out("")
            for cluster in listed {
                Console.out("cluster \(cluster.displayName): system identifier \(cluster.systemIdentifier)"
                    + (cluster.names.count > 1 ? ", also backed up as \(cluster.names.dropLast().joined(separator: ", "))" : ""))
            }
        }
    }
}
