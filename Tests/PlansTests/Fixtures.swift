import Foundation
import Plans
import Testing

/// Step schemas shaped like the real ones, including an inventory reference.
let testSchemas: [StepSchema] = [
    StepSchema(name: "exec", summary: "run a command", parameters: [
        ParameterSpec("command", .list(.string), required: true),
        ParameterSpec("env", .stringMap),
        ParameterSpec("working_directory", .string),
    ]),
    StepSchema(name: "approval", summary: "a gate", parameters: [ParameterSpec("prompt", .string, required: true)]),
    StepSchema(name: "dump", summary: "uses inventory names", parameters: [
        ParameterSpec("database", .reference(.databases), required: true),
        ParameterSpec("repository", .reference(.repositories)),
        ParameterSpec("max_size", .byteSize),
        ParameterSpec("jobs", .integer(1...16)),
        ParameterSpec("verify", .boolean),
    ]),
]

/// A folder holding one plan (and optionally a `lifeboat.yaml`), removed when the value goes away.
final class PlanFolder {
    let directory: String

    init(plan: String, inventory: String? = nil, planName: String = "plan.yaml") throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("lifeboat-plans-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try plan.write(toFile: directory + "/" + planName, atomically: true, encoding: .utf8)
        if let inventory {
            try inventory.write(toFile: directory + "/lifeboat.yaml", atomically: true, encoding: .utf8)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    var planFile: String { directory + "/plan.yaml" }
    var inventoryFile: String { directory + "/lifeboat.yaml" }

    func load() -> PlanLoadResult { PlanLoader(stepSchemas: testSchemas).load(planFile) }
}

func load(_ plan: String, inventory: String? = nil) throws -> (PlanLoadResult, PlanFolder) {
    let folder = try PlanFolder(plan: plan, inventory: inventory)
    return (folder.load(), folder)
}

/// Expects exactly one error at `line:column` whose message contains `message`; returns it.
@discardableResult
func expectError(_ result: PlanLoadResult, line: Int, column: Int, _ message: String, hint: String? = nil,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) -> Diagnostic? {
    let matches = result.errors.filter { $0.message.contains(message) }
    #expect(matches.count == 1, "expected one error containing \"\(message)\"; got:\n\(result.diagnostics.map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
    guard let diagnostic = matches.first else { return nil }
    #expect(diagnostic.location.line == line && diagnostic.location.column == column,
            "\(diagnostic) is not at \(line):\(column)", sourceLocation: sourceLocation)
    if let hint {
        #expect(diagnostic.hint?.contains(hint) == true, "hint of \(diagnostic) lacks \"\(hint)\"",
                sourceLocation: sourceLocation)
    }
    return diagnostic
}
