import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct WALRecoveryDoneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery-done",
        abstract: "End a restore's recovery lease (recovery_end_command, run by PostgreSQL when recovery ends).",
        discussion: "Written by `lifeboat restore`; from then on `repo expire` may remove what that recovery read."
    )

    @Option(help: "The lease to end.")
    var lease: String

    @Option(help: "The cluster (accepted for symmetry with wal fetch; the lease names it).")
    var cluster: String?

    @OptionGroup var repository: RepositoryArguments

    func run() throws {
        let opened = try repository.open()
        try LifeboatError.wrapping { () throws(RepositoryError) in try opened.endRecoveryLease(lease) }
    }
}
