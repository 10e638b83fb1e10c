import ArgumentParser
import Engine
import Repository

struct RepoGCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove chunks no backup refers to and leftovers of interrupted backups.",
        discussion: "Refuses to run while a backup is running (the repository lock)."
    )

    @OptionGroup var repository: RepositoryArguments

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let report: GarbageCollectionReport = try LifeboatError.wrapping { () throws(RepositoryError) in try opened.collectGarbage() }
        if json {
            try Console.json(report)
        } else {
            Console.out("removed \(report.chunksRemoved) chunks (\(TransferReport.bytes(report.bytesRemoved))) and "
                + "\(report.leftoversRemoved) leftovers; \(report.chunksKept) chunks in use")
        }
    }
}
