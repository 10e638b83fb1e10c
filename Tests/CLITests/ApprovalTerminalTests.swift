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

    @Test("nobody answers: the approval escalates (a second notification) and, with on_timeout: fail, fails the step")
    func escalation() async throws {
        let receiver = try await HTTPReceiver()
        let bench = try CLIBench()
        try bench.plan("lifeboat.yaml", "channels:\n  oncall: { type: webhook, url: \"\(receiver.url)\" }\n")
        let plan = try bench.plan("wait.yaml", """
            plan: waiting-gate
            kind: failover
            notify: [ { channels: [oncall], events: [approval.waiting] } ]
            steps:
              - { id: confirm, uses: approval, with: { prompt: Fail over?, escalate_after: 1s, on_timeout: fail } }
            """)
        // The terminal stays open without an answer for longer than the escalation time.
        let command = ([bench.cli.binary, "run", plan]).map { "'\($0)'" }.joined(separator: " ")
        let result = try ProcessRunner.run("/bin/sh", ["-c", "sleep 8 | /usr/bin/script -qec \"\(command)\" /dev/null"],
                                           environment: bench.cli.environment)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("approval 'confirm' was not given within 1s"))
        let summaries = receiver.requests.compactMap { $0.json["summary"] as? String }
        #expect(summaries.count == 2, "\(summaries)")
        #expect(summaries.last?.hasPrefix("ESCALATION: step 'confirm' has waited 1s") == true)
    }
}
