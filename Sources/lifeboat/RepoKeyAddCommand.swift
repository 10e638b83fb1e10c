import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct RepoKeyAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a passphrase that opens the repository.",
        discussion: "The new passphrase comes from --new-passphrase-file, LIFEBOAT_NEW_PASSPHRASE, or a prompt."
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("new-passphrase-file"), help: "Read the new passphrase from this file.")
    var newPassphraseFile: String?

    @Option(help: "A note stored with the key.")
    var label: String?

    func run() throws {
        let opened = try repository.open()
        let secret = try RepositoryAccess.passphrase(repository.options, file: newPassphraseFile,
                                                     variable: EnvironmentVariable.newPassphrase.name, prompt: "new passphrase",
                                                     confirm: true)
        let id = try opened.addKey(passphrase: secret, label: label)
        Console.out("added key \(id)")
    }
}
