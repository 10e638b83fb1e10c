import Foundation
import TestSupport
import Testing

/// Approval gates on a real terminal: `script` gives `lifeboat run` a pseudo-terminal and types the answer.
@Suite("Approval gates on a terminal")
struct ApprovalTerminalTests {
    func runOnTerminal(_ bench: CLIBench, plan: String, answer: String) throws -> ProcessResult {
        let command = ([bench.cli.binary, "run", plan]).map { "'\($0)'" }.joined(separator: " ")
        return try ProcessRunner.run("/usr/bin/script", ["-qec", command, "/dev/null"],
                                     environment: bench.cli.environment, input: answer)
    }

    func gatePlan(_ bench: CLIBench) throws -> String {
        try bench.plan("gate.yaml", """
            plan: terminal-gate
            kind: failover
            steps:
              - { id: confirm, uses: approval, with: { prompt: Promote the standby in Frankfurt? } }
              - { id: promote, uses: exec, needs: confirm, with: { command: [echo, promoted] } }
            """)
    }

    @Test("typing yes approves, and the approver is recorded")
    func approve() throws {
        let bench = try CLIBench()
        let result = try runOnTerminal(bench, plan: try gatePlan(bench), answer: "yes\n")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("APPROVAL NEEDED [terminal-gate / confirm]"))
        #expect(result.stdout.contains("Promote the standby in Frankfurt?"))
        let run = try #require(try bench.runs().first)
        #expect(run["status"] as? String == "succeeded")
        let show = try bench.run(["runs", "show", try #require(run["id"] as? String)])
        #expect(show.stdout.contains("approved by "))
    }

    @Test("any other answer refuses, and the plan stops there")
    func refuse() throws {
        let bench = try CLIBench()
        let result = try runOnTerminal(bench, plan: try gatePlan(bench), answer: "no\n")
        #expect(result.status == 1)
        #expect(result.stdout.contains("approval 'confirm' was refused by"))
        let run = try #require(try bench.runs().first)
        let show = try bench.run(["runs", "show", try #require(run["id"] as? String)])
        #expect(stepLine("promote", in: show.stdout)?.contains(" skipped ") == true)
    }
}
