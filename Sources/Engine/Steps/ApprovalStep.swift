import Foundation
import Plans
import Synchronization

/// `approval`: a manual gate. Asks on the terminal and waits for `yes`; `--yes` approves without asking.
/// Without a terminal and without `--yes` it fails at once with a clear message instead of hanging.
enum ApprovalStep {
    static let schema = StepSchema(
        name: "approval",
        summary: "a manual gate: asks a person to approve before the plan goes on",
        parameters: [
            ParameterSpec("prompt", .string, required: true, "the question shown to the operator"),
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
        let answer = try await TerminalQuestion.ask(
            "\nAPPROVAL NEEDED [\(context.plan.name) / \(context.step.id)]\n\(prompt)\nType yes to approve: ")
        let approved = ["yes", "y"].contains(answer?.trimmingCharacters(in: .whitespaces).lowercased() ?? "")
        guard approved else {
            context.output.note("refused by \(user) (answer: \(answer ?? "end of input"))")
            throw LifeboatError(.runFailed, "approval '\(context.step.id)' was refused by \(user)")
        }
        context.output.note("approved by \(user): \(prompt)")
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
