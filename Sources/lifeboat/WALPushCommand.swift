import ArgumentParser
import Engine
import Foundation
import Repository

struct WALPushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Archive one WAL file (use as archive_command).",
        discussion: """
            archive_command = 'lifeboat wal push %p --repo /srv/lifeboat --key-file /etc/lifeboat/repo.key'
            Exits 0 only once the file is stored durably. Pushing the same content again succeeds; different \
            content under an existing name is refused (exit 1) and nothing is overwritten.
            """
    )

    @Argument(help: "The WAL file (%p: relative to the data directory).")
    var path: String

    @OptionGroup var repository: RepositoryArguments

    func run() throws {
        let name = (path as NSString).lastPathComponent
        guard WALFileName.timeline(of: name) != nil else {
            throw LifeboatError(.invalidInput, "'\(name)' is not a WAL file name PostgreSQL archives")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LifeboatError(.runFailed, "cannot read \(path)")
        }
        let opened = try repository.open()
        do {
            _ = try opened.pushWAL(name: name, contents: Array(data))
        } catch {
            throw LifeboatError(error)
        }
    }
}
