import ArgumentParser

struct RepoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo",
        abstract: "Create a backup repository, manage its keys, copy it offsite, collect its garbage, upgrade it.",
        subcommands: [RepoInitCommand.self, RepoKeyCommand.self, RepoCopyCommand.self, RepoGCCommand.self,
                      RepoExpireCommand.self, RepoUpgradeCommand.self]
    )
}

struct RepoKeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Passphrases and key files that open the repository.",
        subcommands: [RepoKeyAddCommand.self, RepoKeyListCommand.self, RepoKeyRemoveCommand.self,
                      RepoKeyExportCommand.self, RepoKeyCheckCommand.self]
    )
}
