import Foundation
import Plans
import Repository
import LifeboatCrypto
import LifeboatCore

/// Reads plan files with the step types of a registry and fingerprints them.
public enum PlanFiles {
    /// Loads and checks `path`; a valid plan carries the SHA-256 of the file's bytes (recorded with each run).
    /// `inventory` (else `LIFEBOAT_INVENTORY`) replaces the plan's own inventory.
    public static func load(_ path: String, inventory: String? = nil, registry: StepRegistry = .standard,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> PlanLoadResult {
        let override = inventory ?? EnvironmentVariable.inventory.value(in: environment)
        var result = registry.loader.load(path, inventory: override)
        if var plan = result.plan, let bytes = FileManager.default.contents(atPath: path) {
            plan.digest = SHA256.hexDigest(Array(bytes))
            result.plan = plan
        }
        // A drill must restore or check something, or its verdict can only be FAIL.
        if let plan = result.plan, plan.kind == .drill,
           !plan.steps.contains(where: { ["postgres.restore", "postgres.check", "git.verify"].contains($0.uses) }) {
            result.diagnostics.append(Diagnostic(.warning, at: SourceLocation(file: path, line: 1, column: 1),
                                                 "this drill restores and checks nothing, so it will always fail",
                                                 hint: "add a postgres.restore and a postgres.check step (or git.verify)"))
        }
        return result
    }
}
