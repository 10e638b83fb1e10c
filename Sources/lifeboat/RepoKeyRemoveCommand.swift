import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct RepoKeyRemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a key. The last key cannot be removed."
    )

    @OptionGroup var repository: RepositoryArguments

    @Argument(help: "The key id (see `repo key list`).")
    var id: String

    func run() throws {
        let opened = try repository.open()
        try LifeboatError.wrapping { () throws(RepositoryError) in try opened.removeKey(id) }
        Console.out("removed key \(id)")
    }
}
