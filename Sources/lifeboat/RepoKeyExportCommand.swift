import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct RepoKeyExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the repository's master key to a file (mode 0600) for unattended use.",
        discussion: """
            For archive_command and restore_command: `lifeboat wal push %p --repo R --key-file FILE` opens the \
            repository without deriving a key from a passphrase for every WAL segment. Anyone who can read the file \
            can read every backup: keep it owned by the database's OS user, mode 0600.
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("to"), help: "The file to create (never overwritten).")
    var path: String

    func run() throws {
        let opened = try repository.open()
        let path = Paths.absolute(self.path)
        try LifeboatError.wrapping { () throws(RepositoryError) in
            try opened.exportKey(to: path)
            try opened.recordKeyFileCheck(action: "export", path: path)
        }
        Console.out("wrote the key of repository \(opened.id) to \(path) (mode 0600)")
    }
}
