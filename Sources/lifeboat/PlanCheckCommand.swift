import ArgumentParser
import Engine
import Plans

struct PlanCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check plan (and inventory) files; print every problem as FILE:LINE:COLUMN.",
        discussion: "Exits 0 when every file is valid, 2 otherwise. Warnings are printed but do not fail the check."
    )

    @Argument(help: "Plan files, or inventory files named lifeboat.yaml.")
    var files: [String]

    @Flag(name: .shortAndLong, help: "Say 'ok' for each valid file.")
    var verbose = false

    func run() throws {
        var failed = false
        for file in files {
            let diagnostics: [Diagnostic]
            if file.hasSuffix("/" + PlanLoader.defaultInventoryName) || file == PlanLoader.defaultInventoryName {
                diagnostics = StepRegistry.standard.loader.loadInventory(file).diagnostics
            } else {
                diagnostics = PlanFiles.load(file).diagnostics
            }
            Console.diagnostics(diagnostics)
            let errors = diagnostics.filter { $0.severity == .error }.count
            if errors > 0 {
                failed = true
            } else if verbose {
                Console.out("\(file): ok")
            }
        }
        if failed { throw ExitCode(ExitCodes.invalidInput) }
    }
}
