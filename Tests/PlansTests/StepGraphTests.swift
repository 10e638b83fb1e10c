import Plans
import Testing

@Suite("Step graph")
struct StepGraphTests {
    func step(_ id: String, _ needs: [String] = []) -> Step {
        Step(id: id, uses: "exec", needs: needs)
    }

    @Test("stages put every step after what it needs and keep the written order within a stage")
    func stages() {
        let graph = StepGraph([step("d", ["b", "c"]), step("a"), step("b", ["a"]), step("c"), step("e", ["d"])])
        #expect(graph.stages.map { $0.map(\.id) } == [["a", "c"], ["b"], ["d"], ["e"]])
    }

    @Test("cycles are found once each, in need order")
    func cycles() {
        let graph = StepGraph([step("a", ["b"]), step("b", ["a"]), step("c", ["c"]), step("d")])
        #expect(graph.cycles == [["a", "b", "a"], ["c", "c"]])
    }
}
