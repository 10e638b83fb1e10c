import ArgumentParser

struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List recorded runs and show one in detail.",
        subcommands: [RunsListCommand.self, RunsShowCommand.self]
    )
}
