import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct RepoGCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove chunks no backup refers to and leftovers of interrupted backups.",
        discussion: """
            Packs whose chunks are all unused are deleted; packs where unused chunks take 10 % or more are rewritten \
            without them; below that they stay (listed as unused). Packs no index lists are removed, unless backups \
            need their chunks (a lost index): then they are listed again. Refuses to run while a backup is running \
            (the repository lock). In a bucket it also aborts multipart uploads unfinished for more than a day.
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("accept-backups"),
            help: "Confirm that the repository now holds this many backups (after deleting some by hand).")
    var acceptBackups: Int?

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let report: GarbageCollectionReport = try LifeboatError.wrapping { () throws(RepositoryError) in
            try opened.collectGarbage(acceptingBackups: acceptBackups)
        }
        for pack in report.unreadablePacks {
            Console.warning("pack \(pack) is listed by no index and its trailer is damaged: kept; "
                + "`lifeboat verify --read-data` shows whether backups need it")
        }
        if json {
            try Console.json(report)
        } else {
            var line = "removed \(report.chunksRemoved) chunks and \(report.leftoversRemoved) leftovers "
                + "(\(Formatted.bytes(report.bytesRemoved)); \(report.packsRemoved) packs deleted, "
                + "\(report.packsRewritten) rewritten); \(report.chunksKept) chunks in use"
            if report.unusedChunksKept > 0 {
                line += "; \(report.unusedChunksKept) unused chunks (\(Formatted.bytes(report.unusedBytesKept))) left in packs mostly in use"
            }
            if report.uploadsAborted > 0 {
                line += "; \(report.uploadsAborted) unfinished uploads older than a day aborted"
            }
            if report.packsRecovered > 0 {
                line += "; \(report.packsRecovered) packs no index listed were listed again"
            }
            Console.out(line)
        }
    }
}
