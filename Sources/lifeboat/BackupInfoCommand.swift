import ArgumentParser
import Engine
import Repository
import Foundation
import LifeboatCore

struct BackupInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show one backup.")

    @OptionGroup var repository: RepositoryArguments

    @Argument(help: "The backup id, or latest (the newest backup of the cluster).")
    var id: String

    @Option(help: "With latest: the cluster (name or system identifier; default: the only one).")
    var cluster: String?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let summary = try LifeboatError.wrapping { () throws(RepositoryError) -> BackupSummary in
            let manifest: BackupManifest
            let clusters = try opened.clusters()
            if id == "latest" {
                let chosen: ClusterSummary
                if let cluster {
                    chosen = try opened.resolveCluster(cluster, among: clusters, withBackups: true)
                } else {
                    chosen = try opened.onlyCluster(among: clusters)
                }
                guard let newest = try opened.manifests(cluster: chosen.systemIdentifier).last else {
                    throw RepositoryError(.notFound, "no backups of \(chosen.label) in \(opened.location)")
                }
                manifest = newest
            } else {
                manifest = try opened.manifest(id)
            }
            let name = clusters.first { $0.systemIdentifier == manifest.systemIdentifier }?.displayName
            return BackupSummary(manifest, clusterName: name)
        }
        if json {
            try Console.json(summary)
        } else {
            Console.out(summary.text)
        }
    }
}
