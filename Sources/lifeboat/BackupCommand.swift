import ArgumentParser

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of a PostgreSQL server, list backups, show one.",
        subcommands: [BackupCreateCommand.self, BackupListCommand.self, BackupInfoCommand.self],
        defaultSubcommand: BackupCreateCommand.self
    )
}
