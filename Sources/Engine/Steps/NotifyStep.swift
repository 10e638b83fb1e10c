import Foundation
import Notify
import Plans
import LifeboatCore

/// `notify`: an explicit message to channels (e.g. "failover starting in 5 minutes"), marked DRILL or REAL INCIDENT
/// like every other. It waits for delivery; a channel that stays down fails the step only when it is `required`.
enum NotifyStep {
    static let schema = StepSchema(
        name: "notify",
        summary: "send a message to notification channels",
        parameters: [
            ParameterSpec("channels", .list(.reference(.channels)), required: true),
            ParameterSpec("message", .string, required: true, "the message (one line; details go in 'details')"),
            ParameterSpec("details", .list(.string), "more lines"),
        ],
        example: "    with: { channels: [oncall], message: \"Failover of orders starts in 5 minutes\" }"
    )

    static let type = StepType(schema: schema) { context in
        guard let notifier = context.session.notifier else { return }
        let channels = context.step.parameters["channels"]?.listValue?.compactMap(\.referenceName) ?? []
        let message = try context.string("message") ?? ""
        let details = try (context.step.parameters["details"]?.listValue ?? []).compactMap(\.stringValue)
            .map { try context.secrets.resolve($0) }
        let event = notifier.event(.message, summary: message, details: details, fields: ["step": context.step.id])
        let outcomes = await notifier.send(event, to: channels)
        var failures: [String] = []
        for (outcome, required) in outcomes {
            if outcome.delivered {
                context.output.note("sent to \(outcome.channel) (\(outcome.attempts) attempt\(outcome.attempts == 1 ? "" : "s"))")
            } else {
                context.output.note("could not reach \(outcome.channel): \(outcome.error ?? "")")
                if required { failures.append("\(outcome.channel): \(outcome.error ?? "")") }
            }
        }
        if !failures.isEmpty {
            throw LifeboatError(.runFailed, "required channel could not be notified: " + failures.joined(separator: "; "))
        }
    }
}
