import ArgumentParser
import Engine
import Foundation
import Plans

/// Every exit code Lifeboat uses, in one place. Cron and scripts depend on these; the README lists them.
///
/// | code | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | the run (or a step) failed |
/// | 2 | invalid plan, file or command line; no such run |
/// | 3 | damage found: a missing or corrupt object (verify, restore, WAL fetch of a damaged segment) |
/// | 4 | a drill failed: a check failed, a target (RPO, RTO) was missed, or the restore did not complete |
/// | 5 | `status`: a database is outside its targets right now |
/// | 6 | Lifeboat's own state (state directory, catalog) is unusable |
/// | 10 | no repository at the location, or not initialised |
/// | 11 | the plan is already running (lock held) |
/// | 12 | wrong passphrase or key |
/// | 130 | cancelled by SIGINT/SIGTERM |
/// | 255 | `wal fetch` only: the archive is unreadable or damaged (a code above 125 makes PostgreSQL stop recovery
/// |     | instead of taking the failure for the end of the archive) |
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

    static func code(for error: LifeboatError) -> Int32 {
        switch error.code {
        case .runFailed: runFailed
        case .invalidInput: invalidInput
        case .notFound: invalidInput
        case .damaged: damaged
        case .state: stateUnusable
        case .repositoryMissing: repositoryMissing
        case .wrongKey: wrongKey
        case .locked: locked
        case .cancelled: cancelled
        default: runFailed
        }
    }

    /// Prints what went wrong to standard error and returns the exit code for it.
    static func report(_ error: any Error, command: (any ParsableCommand.Type)? = nil) -> Int32 {
        switch error {
        case let error as LifeboatError:
            Console.error(error.message)
            if let hint = error.hint { Console.hint(hint) }
            return code(for: error)
        case let error as PlanValidationError:
            Console.diagnostics(error.diagnostics)
            return invalidInput
        case let error as ExitCode:
            return error.rawValue
        default:
            // Help, --version and usage errors from the argument parser.
            let message = Lifeboat.fullMessage(for: error)
            let exit = Lifeboat.exitCode(for: error)
            if exit == .success {
                if !message.isEmpty { print(message) }
                return success
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            return invalidInput
        }
    }
}
