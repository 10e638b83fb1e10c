import ArgumentParser
import Engine
import Foundation
import Postgres
import Repository
import LifeboatCore

struct BackupCreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Take a base backup (the default: `lifeboat backup --repo R --conninfo ...`).",
        discussion: """
            Streams BASE_BACKUP over a replication connection into the repository: compressed, encrypted, \
            deduplicated. The WAL needed for consistency is part of the backup. The backup exists once its \
            manifest is written, last; an interrupted backup leaves only unreferenced chunks.
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(help: "libpq connection string of the server, e.g. 'host=db port=5432 user=backup'.")
    var conninfo: String?

    @Option(help: "The database's name in the inventory (instead of --conninfo).")
    var database: String?

    @Option(help: "The name to take the backup under (default: the --database name, else the cluster's name in the repository, else the host in the connection string).")
    var source: String?

    @Option(help: "Checkpoint before the backup: fast (start now) or spread (gentler on the server).")
    var checkpoint: String = "fast"

    @Option(help: """
        stream: BASE_BACKUP over a replication connection (works from any host). local: on the database host, read         the data directory directly and skip files unchanged since the previous backup (needs WAL archiving into         this repository).
        """)
    var mode: String = "stream"

    @Option(help: "local mode: read the data directory here instead of the server's data_directory.")
    var pgdata: String?

    @Flag(name: .customLong("full-read"),
          help: "local mode: read every file, also those unchanged since the previous backup.")
    var fullRead = false

    @Flag(help: "Print a JSON summary.")
    var json = false

    func validate() throws {
        guard (conninfo == nil) != (database == nil) else { throw ValidationError("give --conninfo or --database (one of them)") }
        guard ["fast", "spread"].contains(checkpoint) else { throw ValidationError("--checkpoint must be fast or spread") }
        guard ["stream", "local"].contains(mode) else { throw ValidationError("--mode must be stream or local") }
    }

    func run() throws {
        let opened = try repository.open()
        let connection: String
        if let database {
            guard let names = try InventoryNames.load(explicit: repository.inventory) else {
                throw LifeboatError(.invalidInput, "--database needs an inventory (--inventory FILE or ./lifeboat.yaml)")
            }
            connection = try names.conninfo(database: database, environment: ProcessInfo.processInfo.environment)
        } else {
            connection = conninfo ?? ""
        }
        var options = BaseBackup.Options(conninfo: connection, source: source ?? database ?? Self.host(in: connection))
        options.sourceIsFallback = source == nil && database == nil
        options.fastCheckpoint = checkpoint == "fast"
        if TransferReport.isTerminal && !json { options.progress = TransferReport.show("backed up") }
        let manifest: BackupManifest
        do {
            if mode == "local" {
                var local = LocalBackup.Options(conninfo: connection, source: options.source)
                local.sourceIsFallback = options.sourceIsFallback
                local.fastCheckpoint = options.fastCheckpoint
                local.dataDirectory = pgdata
                local.reuseUnchanged = !fullRead
                local.note = { Console.warning($0) }
                manifest = try LocalBackup.run(into: opened, options: local)
            } else {
                manifest = try BaseBackup.run(into: opened, options: options)
            }
        } catch let error as RepositoryError {
            TransferReport.endLine()
            throw error
        } catch {
            TransferReport.endLine()
            throw LifeboatError("backup failed", error)
        }
        if options.progress != nil { TransferReport.endLine() }
        let summary = BackupSummary(manifest)
        if json {
            try Console.json(summary)
        } else if TransferReport.isTerminal {
            Console.out(summary.text)
        }
    }

    static func host(in conninfo: String) -> String {
        for part in conninfo.split(separator: " ") where part.hasPrefix("host=") {
            return String(part.dropFirst(5))
        }
        return "localhost"
    }
}
