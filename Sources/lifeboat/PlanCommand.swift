import ArgumentParser

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Check plans and show what they would do.",
        subcommands: [PlanCheckCommand.self, PlanShowCommand.self]
    )
}
