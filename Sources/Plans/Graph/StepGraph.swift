/// The dependency graph of a list of steps (`needs`).
public struct StepGraph: Sendable {
    public let steps: [Step]
    private let index: [String: Int]

    public init(_ steps: [Step]) {
        self.steps = steps
        var index: [String: Int] = [:]
        for (position, step) in steps.enumerated() where index[step.id] == nil {
            index[step.id] = position
        }
        self.index = index
    }

    /// Steps grouped into stages: every step's needs are in earlier stages, so the steps of one stage may run in
    /// parallel. Within a stage, steps keep the order in which they were written. Assumes no cycles.
    public var stages: [[Step]] {
        var level: [String: Int] = [:]
        func levelOf(_ step: Step, visiting: Set<String>) -> Int {
            if let known = level[step.id] { return known }
            var result = 0
            for need in step.needs {
                guard let position = index[need], !visiting.contains(need) else { continue }
                result = max(result, levelOf(steps[position], visiting: visiting.union([step.id])) + 1)
            }
            level[step.id] = result
            return result
        }
        var stages: [[Step]] = []
        for step in steps {
            let stage = levelOf(step, visiting: [])
            while stages.count <= stage { stages.append([]) }
            stages[stage].append(step)
        }
        return stages
    }

    /// Every cycle, each as the ids along it in need order, the first repeated at the end (`a → b → a`: a needs b,
    /// b needs a).
    public var cycles: [[String]] {
        var state: [String: Int] = [:]  // 1 = on the current path, 2 = done
        var path: [String] = []
        var found: [[String]] = []
        var reported = Set<Set<String>>()
        func visit(_ id: String) {
            state[id] = 1
            path.append(id)
            for need in steps[index[id]!].needs where index[need] != nil {
                switch state[need] {
                case 1:
                    let start = path.lastIndex(of: need)!
                    let cycle = Array(path[start...])
                    if reported.insert(Set(cycle)).inserted {
                        found.append(cycle + [cycle.first!])
                    }
                case nil:
                    visit(need)
                default:
                    break
                }
            }
            path.removeLast()
            state[id] = 2
        }
        for step in steps where state[step.id] == nil {
            visit(step.id)
        }
        return found
    }
}
