import ArgumentParser
import Engine

struct RepoInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a repository in an empty or new folder.",
        discussion: """
            The passphrase comes from --passphrase-file, LIFEBOAT_PASSPHRASE, or a prompt on a terminal. \
            It wraps a random master key; losing every passphrase (and every exported key file) loses the backups.
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("compression-level"), help: "zstd level for new objects, 1-19.")
    var compressionLevel: Int = 3

    @Option(help: "A note stored with the key (who or what it is for).")
    var label: String?

    func run() throws {
        let created = try RepositoryAccess.initialize(repository.options, compressionLevel: compressionLevel, label: label)
        Console.out("created repository \(created.id) at \(created.location) (key \(created.openedKeyId ?? "-"))")
    }
}
