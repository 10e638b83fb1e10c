import Foundation
import Notify
import Plans
import LifeboatCore

/// `lifeboat notify test`: one test message to one channel.
public enum ChannelTest {
    public static func send(_ name: String, inventory: Inventory,
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> DeliveryOutcome {
        guard let entry = inventory.entry(.channels, name) else {
            throw LifeboatError(.invalidInput, "no channel '\(name)' in \(inventory.file ?? "the inventory")",
                                hint: "defined: \(inventory.names(.channels).joined(separator: ", "))")
        }
        let redactor = Redactor()
        let channel = try ChannelBuilder.build(entry, secrets: SecretResolver(environment: environment, redactor: redactor))
        let event = NotificationEvent(kind: .test, plan: "notify-test", runId: "test", drill: true,
                                      summary: "A test message from Lifeboat: if you read this, channel \(name) works.")
        var outcome = try await Blocking.run { _ in Deliverer(attempts: 2).deliver(event, to: channel) }
        outcome.error = outcome.error.map(redactor.redact)
        return outcome
    }
}
