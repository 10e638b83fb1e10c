import ArgumentParser
import Engine
import Foundation
import Postgres
import Repository
import LifeboatCore

struct WALFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch one archived WAL file (use as restore_command).",
        discussion: """
            restore_command = 'lifeboat wal fetch %f %p --repo /srv/lifeboat --cluster 7301… --key-file /etc/lifeboat/repo.key'
            Exits 0 when the file was written, 1 (silently) when the archive does not have it — PostgreSQL then \\
            ends archive recovery — and 255 when the archive cannot be read or the file is damaged, so that \\
            PostgreSQL stops instead of ending recovery early. `lifeboat restore` writes this command with the \\
            cluster it restored; without --cluster, the repository must hold the WAL of one cluster only.
            """
    )

    @Argument(help: "The WAL file name (%f).")
    var name: String

    @Argument(help: "Where to write it (%p).")
    var destination: String

    @Option(help: ArgumentHelp("Treat files archived at or after this UTC time (ISO 8601) as absent: the archive as it was then (drills).",
                               valueName: "time"))
    var archivedBefore: String?

    @Option(help: "The cluster's system identifier (default: the only cluster with WAL in the repository).")
    var cluster: String?

    @Option(help: ArgumentHelp("The recovery's lease (written by `restore`): refreshed with each fetch, so that expire "
                               + "removes nothing this recovery still needs.", valueName: "id"))
    var lease: String?

    @OptionGroup var repository: RepositoryArguments

    func validate() throws {
        if let archivedBefore, Restore.parseTime(archivedBefore) == nil {
            throw ValidationError("cannot read --archived-before '\(archivedBefore)' (use e.g. 2026-11-26T02:30:00Z)")
        }
        if let cluster, !SystemIdentifier.isValid(cluster) {
            throw ValidationError("--cluster takes a system identifier (the digits pg_controldata shows)")
        }
    }

    func run() throws {
        var contents: [UInt8]?
        do {
            // A server restored before its repository was upgraded fetches from the older layout until then.
            let opened = try repository.open(allowingOlderFormat: true)
            let cutoff = archivedBefore.flatMap(Restore.parseTime)
            if let lease {
                // Best effort: a lease that cannot be refreshed must not stop the recovery it protects.
                do {
                    try opened.refreshRecoveryLease(lease)
                } catch {
                    Console.warning("cannot refresh recovery lease \(lease): \(error.message)")
                }
            }
            contents = try opened.fetchWAL(name: name, cluster: try chosenCluster(opened), archivedBefore: cutoff)
            // Not there, and the repository was of the older format: an upgrade may have moved it meanwhile.
            if contents == nil, opened.isOlderFormat,
               try BackupRepository.readConfig(in: opened.store, allowingOlderFormat: true).format == BackupRepository.formatVersion {
                let current = try repository.open()
                contents = try current.fetchWAL(name: name, cluster: try chosenCluster(current), archivedBefore: cutoff)
            }
        } catch {
            Console.error(LifeboatError("cannot fetch \(name)", error).message)
            throw ExitCode(ExitCodes.recoveryMustStop)
        }
        guard let contents else { throw ExitCode(ExitCodes.runFailed) }
        try write(contents)
    }

    /// `--cluster`, else the only cluster with WAL (the older format has no clusters).
    private func chosenCluster(_ opened: BackupRepository) throws -> String {
        if let cluster { return cluster }
        if opened.isOlderFormat { return "" }
        let clusters = try opened.walClusters()
        guard clusters.count == 1 else {
            throw LifeboatError(.invalidInput, clusters.isEmpty ? "the repository holds no WAL"
                : "the repository holds the WAL of \(clusters.count) clusters (\(clusters.joined(separator: ", "))); "
                    + "restore_command must name one with --cluster")
        }
        return clusters[0]
    }

    private func write(_ contents: [UInt8]) throws {
        do {
            let folder = FileStore(root: (destination as NSString).deletingLastPathComponent.isEmpty
                ? "." : (destination as NSString).deletingLastPathComponent)
            try folder.write((destination as NSString).lastPathComponent, contents, mode: .replace)
        } catch {
            Console.error("cannot write \(destination): \(error.message)")
            throw ExitCode(ExitCodes.recoveryMustStop)
        }
    }
}
