import ArgumentParser
import Engine
import Repository
import Foundation

struct BackupInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Show one backup.")

    @OptionGroup var repository: RepositoryArguments

    @Argument(help: "The backup id, or latest.")
    var id: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let summary: BackupSummary
        do {
            let ids = try opened.backupIds()
            guard let chosen = id == "latest" ? ids.last : id else {
                throw LifeboatError(.notFound, "no backups in \(opened.location)")
            }
            summary = BackupSummary(try opened.manifest(chosen))
        } catch let error as LifeboatError {
            throw error
        } catch let error as RepositoryError {
            throw LifeboatError(error)
        }
        if json {
            try Console.json(summary)
        } else {
            Console.out(summary.text)
        }
    }
}
