import Foundation
import Plans
import LifeboatCore

/// The plans of a folder (`*.yaml` and `*.yml`, not the inventory `lifeboat.yaml`), each loaded and checked.
public struct PlanDirectory: Sendable {
    public var folder: String
    public var plans: [Plan]
    /// Files that did not load, with their diagnostics.
    public var broken: [(file: String, diagnostics: [Diagnostic])]

    /// `--plans`, else `LIFEBOAT_PLANS`, else `/etc/lifeboat/plans`.
    public static func resolve(_ explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        explicit ?? EnvironmentVariable.plans.value(in: environment) ?? "/etc/lifeboat/plans"
    }

    public static func load(_ folder: String) throws -> PlanDirectory {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            throw LifeboatError(.invalidInput, "cannot read the plans folder \(folder)", hint: "give --plans DIR")
        }
        var result = PlanDirectory(folder: folder, plans: [], broken: [])
        for name in names.sorted() where (name.hasSuffix(".yaml") || name.hasSuffix(".yml"))
            && name != PlanLoader.defaultInventoryName {
            let file = (folder as NSString).appendingPathComponent(name)
            let loaded = PlanFiles.load(file)
            if let plan = loaded.plan {
                result.plans.append(plan)
            } else {
                result.broken.append((file, loaded.diagnostics))
            }
        }
        return result
    }

    /// The plans that have a schedule.
    public var scheduled: [Plan] { plans.filter { $0.schedule != nil } }
}
