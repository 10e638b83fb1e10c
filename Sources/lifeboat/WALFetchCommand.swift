import ArgumentParser
import Engine
import Foundation
import Postgres
import Repository

struct WALFetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "Fetch one archived WAL file (use as restore_command).",
        discussion: """
            restore_command = 'lifeboat wal fetch %f %p --repo /srv/lifeboat --key-file /etc/lifeboat/repo.key'
            Exits 0 when the file was written, 1 (silently) when the archive does not have it — PostgreSQL then \
            ends archive recovery — and 255 when the archive cannot be read or the file is damaged, so that \
            PostgreSQL stops instead of ending recovery early.
            """
    )

    @Argument(help: "The WAL file name (%f).")
    var name: String

    @Argument(help: "Where to write it (%p).")
    var destination: String

    @Option(help: ArgumentHelp("Treat files archived at or after this UTC time (ISO 8601) as absent: the archive as it was then (drills).",
                               valueName: "time"))
    var archivedBefore: String?

    @OptionGroup var repository: RepositoryArguments

    func validate() throws {
        if let archivedBefore, Restore.parseTime(archivedBefore) == nil {
            throw ValidationError("cannot read --archived-before '\(archivedBefore)' (use e.g. 2026-11-26T02:30:00Z)")
        }
    }

    func run() throws {
        let contents: [UInt8]?
        do {
            let opened = try repository.open()
            contents = try opened.fetchWAL(name: name, archivedBefore: archivedBefore.flatMap(Restore.parseTime))
        } catch let error as LifeboatError {
            Console.error("cannot fetch \(name): \(error.message)")
            throw ExitCode(ExitCodes.recoveryMustStop)
        } catch {
            Console.error("cannot fetch \(name): \(error)")
            throw ExitCode(ExitCodes.recoveryMustStop)
        }
        guard let contents else { throw ExitCode(ExitCodes.runFailed) }
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
