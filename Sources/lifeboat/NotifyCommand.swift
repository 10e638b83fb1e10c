import ArgumentParser
import Engine
import Foundation
import Notify
import LifeboatCore

struct NotifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Notification channels.",
        subcommands: [NotifyTestCommand.self]
    )
}

struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test message to a channel of the inventory and report how it went.",
        discussion: "Exit 0 when the channel accepted it, 1 when it did not (the error says why)."
    )

    @Argument(help: "The channel's name in the inventory.")
    var channel: String

    @Option(help: "The inventory (default: $LIFEBOAT_INVENTORY, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml).")
    var inventory: String?

    func run() async throws {
        guard let names = try InventoryNames.load(explicit: inventory) else {
            throw LifeboatError(.invalidInput, "no inventory found", hint: "give --inventory FILE or set LIFEBOAT_INVENTORY")
        }
        let outcome = try await ChannelTest.send(channel, inventory: names.inventory)
        if outcome.delivered {
            Console.out("channel '\(channel)' accepted the test message (\(outcome.attempts) attempt\(outcome.attempts == 1 ? "" : "s"), "
                + "\(Formatted.duration(outcome.seconds)))")
        } else {
            Console.error("channel '\(channel)' did not accept the test message after \(outcome.attempts) attempts: \(outcome.error ?? "")")
            throw ExitCode(ExitCodes.runFailed)
        }
    }
}
