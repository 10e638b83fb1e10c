import Foundation
import Plans
import Repository

/// Reads plan files with the step types of a registry and fingerprints them.
public enum PlanFiles {
    /// Loads and checks `path`; a valid plan carries the SHA-256 of the file's bytes (recorded with each run).
    public static func load(_ path: String, registry: StepRegistry = .standard) -> PlanLoadResult {
        var result = registry.loader.load(path)
        if var plan = result.plan, let bytes = FileManager.default.contents(atPath: path) {
            plan.digest = SHA256.hexDigest(Array(bytes))
            result.plan = plan
        }
        return result
    }
}
