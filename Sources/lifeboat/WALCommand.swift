import ArgumentParser

struct WALCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal",
        abstract: "Archive and fetch WAL files (archive_command and restore_command).",
        subcommands: [WALPushCommand.self, WALFetchCommand.self, WALRecoveryDoneCommand.self]
    )
}
