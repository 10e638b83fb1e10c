import ArgumentParser
import Engine
import Repository
import Foundation

struct BackupListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List complete backups, oldest first.")

    @OptionGroup var repository: RepositoryArguments

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let summaries: [BackupSummary] = try LifeboatError.wrapping { () throws(RepositoryError) in try opened.manifests().map(BackupSummary.init) }
        if json {
            try Console.json(summaries)
            return
        }
        guard !summaries.isEmpty else {
            Console.out("no backups in \(opened.location)")
            return
        }
        Console.out(Console.table(["BACKUP", "SOURCE", "STARTED (UTC)", "DURATION", "SIZE", "NEW", "STOP LSN"],
                                  summaries.map { summary in
            [summary.id, summary.source, Console.time(summary.startTime), Console.duration(summary.seconds),
             TransferReport.bytes(summary.logicalBytes), TransferReport.bytes(summary.newStoredBytes), summary.stopLSN]
        }))
    }
}
