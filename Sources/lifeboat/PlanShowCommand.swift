import ArgumentParser
import Engine
import Plans

struct PlanShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a plan's steps in the order they run, with their parameters (secrets as references)."
    )

    @Argument(help: "The plan file.")
    var file: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let result = PlanFiles.load(file)
        let plan = try result.get()
        Console.diagnostics(result.warnings)
        let description = PlanDescription(plan)
        if json {
            try Console.json(description)
        } else {
            Console.out(description.text)
        }
    }
}
