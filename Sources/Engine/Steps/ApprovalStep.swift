import Foundation
import Plans
import Synchronization
import LifeboatCore

/// `approval`: a manual gate. Asks on the terminal and waits for `yes`; `--yes` approves without asking.
/// Without a terminal and without `--yes` it fails at once with a clear message instead of hanging.
enum ApprovalStep {
    static let schema = StepSchema(
        name: "approval",
        summary: "a manual gate: asks a person to approve before the plan goes on",
        parameters: [
            ParameterSpec("prompt", .string, required: true, "the question shown to the operator"),
            ParameterSpec("escalate_after", .duration, "when nobody has answered by then, send approval.waiting again, escalated"),
            ParameterSpec("on_timeout", .choice(["wait", "fail"]), "after escalating: keep waiting (default) or fail the step"),
        ],
        example: "    with:\n      prompt: Promote the standby in Frankfurt?"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let prompt = try context.string("prompt") ?? ""
        let user = OperatingSystemUser.current
        if context.interaction.assumeYes {
            context.output.note("approved by \(user) with --yes: \(prompt)")
            return
        }
        guard context.interaction.isTerminal else {
            throw LifeboatError(.runFailed, "approval '\(context.step.id)' needs an operator, but there is no terminal",
                                hint: "run it in a terminal to answer, or pass --yes to approve in advance")
        }
        context.session.notifier?.emit(.approvalWaiting, summary: "step '\(context.step.id)' waits for an approval: \(prompt)",
                                       fields: ["step": context.step.id])
        let question = "\nAPPROVAL NEEDED [\(context.plan.name) / \(context.step.id)]\n\(prompt)\nType yes to approve: "
        let answer: String?
        if let escalate = context.step.parameters["escalate_after"]?.durationValue {
            answer = try await askWithEscalation(question, after: escalate, context: context, prompt: prompt)
        } else {
            answer = try await TerminalQuestion.ask(question)
        }
        let approved = ["yes", "y"].contains(answer?.trimmingCharacters(in: .whitespaces).lowercased() ?? "")
        guard approved else {
            context.output.note("refused by \(user) (answer: \(answer ?? "end of input"))")
            throw LifeboatError(.runFailed, "approval '\(context.step.id)' was refused by \(user)")
        }
        context.output.note("approved by \(user): \(prompt)")
    }
}

extension ApprovalStep {
    private enum Outcome: Sendable {
        case answer(String?)
        case timeout
    }

    /// Asks, and when nobody answers within `after`, escalates (notification) and keeps waiting or fails.
    static func askWithEscalation(_ question: String, after: PlanDuration, context: StepContext, prompt: String) async throws
        -> String? {
        let failOnTimeout = context.step.parameters["on_timeout"]?.stringValue?.literalValue == "fail"
        return try await withThrowingTaskGroup(of: Outcome.self) { group in
            group.addTask { .answer(try await TerminalQuestion.ask(question)) }
            group.addTask {
                try await Task.sleep(for: after.duration)
                return .timeout
            }
            defer { group.cancelAll() }
            while let outcome = try await group.next() {
                switch outcome {
                case .answer(let text):
                    return text
                case .timeout:
                    context.output.note("no answer after \(after): escalating" + (failOnTimeout ? "; the step fails" : "; still waiting"))
                    context.session.notifier?.emit(
                        .approvalWaiting, summary: "ESCALATION: step '\(context.step.id)' has waited \(after) for an approval: \(prompt)",
                        fields: ["step": context.step.id + "/escalated"], failure: true)
                    if failOnTimeout {
                        throw LifeboatError(.runFailed, "approval '\(context.step.id)' was not given within \(after)")
                    }
                }
            }
            return nil
        }
    }
}

/// Asks a question on standard error and reads one line from standard input on a thread of its own, so that
/// waiting for a person never blocks the concurrency pool. Cancelling the task stops the wait.
enum TerminalQuestion {
    private final class Pending: Sendable {
        let continuation = Mutex<CheckedContinuation<String?, any Error>?>(nil)
        func resume(with result: Result<String?, any Error>) {
            continuation.withLock { stored in
                stored?.resume(with: result)
                stored = nil
            }
        }
    }

    static func ask(_ question: String) async throws -> String? {
        let pending = Pending()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                pending.continuation.withLock { $0 = continuation }
                let thread = Thread {
                    FileHandle.standardError.write(Data(question.utf8))
                    pending.resume(with: .success(readLine(strippingNewline: true)))
                }
                thread.start()
            }
        } onCancel: {
            pending.resume(with: .failure(CancellationError()))
        }
    }
}

/// The name of the user Lifeboat runs as (recorded with approvals and runs).
public enum OperatingSystemUser {
    public static var current: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            let user = String(cString: name)
            if user == "root", let sudoUser = ProcessInfo.processInfo.environment["SUDO_USER"], !sudoUser.isEmpty {
                return "root (sudo by \(sudoUser))"
            }
            return user
        }
        return "uid \(geteuid())"
    }
}
