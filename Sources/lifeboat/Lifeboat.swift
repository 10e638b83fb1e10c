import ArgumentParser
import Foundation
import LifeboatCore

@main
struct Lifeboat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifeboat",
        abstract: "Back up, mirror, restore and prove recovery objectives with declarative plans.",
        discussion: ExitCodes.helpText + "\n\n" + EnvironmentHelp.text,
        version: LifeboatVersion.text,
        subcommands: [PlanCommand.self, RunCommand.self, RunsCommand.self, RepoCommand.self, BackupCommand.self, RestoreCommand.self, VerifyCommand.self,
                      WALCommand.self, DrillsCommand.self, StatusCommand.self, GitCommand.self, NotifyCommand.self,
                      ScheduleCommand.self, CronCommand.self, SystemdCommand.self, DaemonCommand.self,
                      FailoverCommand.self, ResumeCommand.self,
                      VersionCommand.self]
    )

    /// Parses the command line, runs the command and exits with a documented code (see `ExitCodes`).
    static func main() async {
        let code: Int32
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            code = ExitCodes.success
        } catch {
            code = ExitCodes.report(error)
        }
        Foundation.exit(code)
    }
}

/// Options every command that touches local state takes.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"),
            help: "Folder for the catalog, run logs and locks (default: $LIFEBOAT_STATE_DIR, else /var/lib/lifeboat as root, ~/.local/state/lifeboat otherwise).")
    var stateDir: String?
}
