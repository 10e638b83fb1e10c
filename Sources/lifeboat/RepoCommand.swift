import ArgumentParser

struct RepoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo",
        abstract: "Create a backup repository and manage its keys.",
        subcommands: [RepoInitCommand.self, RepoKeyCommand.self, RepoGCCommand.self, RepoExpireCommand.self]
    )
}

struct RepoKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Passphrases and key files that open the repository.",
        subcommands: [RepoKeyAddCommand.self, RepoKeyListCommand.self, RepoKeyRemoveCommand.self,
                      RepoKeyExportCommand.self]
    )
}
