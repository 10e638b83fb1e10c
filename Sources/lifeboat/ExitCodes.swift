import ArgumentParser
import Engine
import Foundation
import Plans
import Repository
import LifeboatCore

/// Every exit code Lifeboat uses, in one place: `table` is what `--help` prints and what the README's table must
/// say (a test compares them). Cron and scripts depend on these.
enum ExitCodes {
    static let success: Int32 = 0
    static let runFailed: Int32 = 1
    static let invalidInput: Int32 = 2
    static let damaged: Int32 = 3
    static let drillFailed: Int32 = 4
    static let targetBreached: Int32 = 5
    static let stateUnusable: Int32 = 6
    static let repositoryMissing: Int32 = 10
    static let locked: Int32 = 11
    static let wrongKey: Int32 = 12
    static let cancelled: Int32 = 130
    static let recoveryMustStop: Int32 = 255

    /// Each code, a few words for `--help`, and the README's description.
    static let table: [(code: Int32, short: String, meaning: String)] = [
        (success, "ok", "success"),
        (runFailed, "run failed",
         "the run failed (a step failed, or a needed step was skipped); a backup failed; `wal fetch`: segment not in the archive; an error of no other kind"),
        (invalidInput, "invalid plan, file or usage",
         "invalid plan, file or command line (an unreadable key or passphrase file, a target time that cannot be read, a restore into a non-empty folder); no such run or backup"),
        (damaged, "damage found",
         "damage found: `verify` or `restore` found a missing or corrupt object, a damaged `config` or key slot, or a gap in the WAL before the restore target; `gc` refused a backups listing shorter than the last one"),
        (drillFailed, "drill failed",
         "a drill failed: a check failed, the RPO or RTO target was missed, or the restore did not complete (the report says which)"),
        (targetBreached, "a database outside its targets (status)", "`status`: a database is outside its targets right now"),
        (stateUnusable, "state unusable", "Lifeboat's own state (state directory, catalog) is unusable"),
        (repositoryMissing, "no repository",
         "no repository at the location, not initialised, or of an older format (`lifeboat repo upgrade` upgrades it)"),
        (locked, "locked",
         "locked: the plan is already running; `repo gc`/`expire` while a backup or a recovery holds the repository; a backup whose repository lock lapsed (nothing committed)"),
        (wrongKey, "wrong passphrase or key",
         "wrong passphrase, or a key file that does not open this repository (damaged, truncated, another repository's)"),
        (cancelled, "cancelled", "cancelled by SIGINT or SIGTERM"),
        (recoveryMustStop, "wal fetch: archive unreadable",
         "`wal fetch` only: the archive is unreadable or damaged — above 125, so PostgreSQL stops recovery instead of ending it early"),
    ]

    /// The line `lifeboat --help` shows.
    static var helpText: String {
        "Exit codes: " + table.map { "\($0.code) \($0.short)" }.joined(separator: ", ") + "."
    }

    /// The exit status of each error code: the only place that decides it.
    static func code(for code: ErrorCode) -> Int32 {
        switch code {
        case .invalidInput, .notFound, .refused: invalidInput
        case .damaged: damaged
        case .state: stateUnusable
        case .notInitialised, .outdated: repositoryMissing
        case .wrongKey: wrongKey
        case .locked: locked
        case .cancelled: cancelled
        default: runFailed  // runFailed, conflict, io
        }
    }

    /// Prints what went wrong to standard error and returns the exit code for it.
    static func report(_ error: any Error, command: (any ParsableCommand.Type)? = nil) -> Int32 {
        switch error {
        case let error as PlanValidationError:
            Console.diagnostics(error.diagnostics)
            return code(for: error.code)
        case let error as any LifeboatFailure:
            Console.error(error.message)
            if let hint = error.hint { Console.hint(hint) }
            return code(for: error.code)
        case let error as ExitCode:
            return error.rawValue
        default:
            // Help, --version and usage errors from the argument parser; anything else is an error of no known
            // kind: exit 1, never "invalid input".
            let message = Lifeboat.fullMessage(for: error)
            let exit = Lifeboat.exitCode(for: error)
            if exit == .success {
                if !message.isEmpty { print(message) }
                return success
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            return exit == .validationFailure ? invalidInput : runFailed
        }
    }
}
