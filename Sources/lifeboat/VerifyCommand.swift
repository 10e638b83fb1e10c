import ArgumentParser
import Engine
import Repository
import LifeboatCore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that backups and their WAL are complete (and, with --read-data, intact).",
        discussion: "Lists every problem by backup, file and object. Exit 0 when all is well, 3 when anything is missing or damaged."
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(help: "Only this backup (default: all).")
    var backup: String?

    @Flag(name: .customLong("read-data"), help: "Read, decrypt and hash every chunk and WAL segment, not just check they exist.")
    var readData = false

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let opened = try repository.open()
        let report: VerifyReport = try LifeboatError.wrapping { () throws(RepositoryError) in try opened.verify(backup: backup, readData: readData) }
        if report.olderLayoutWAL > 0 && !json {
            Console.warning("\(report.olderLayoutWAL) WAL files of repository format 2 are left over from an interrupted upgrade; "
                + "`lifeboat repo upgrade` finishes it")
        }
        if !json {
            for warning in report.warnings { Console.warning(warning) }
            if !report.warnings.isEmpty { Console.hint(BackupRepository.singleKeyHint) }
        }
        if json {
            try Console.json(report)
        } else {
            for problem in report.problems { Console.out(problem.description) }
            if report.problems.isEmpty && TransferReport.isTerminal {
                Console.out("ok: \(report.backups.count) backups, \(report.chunksChecked) chunks, "
                    + "\(report.walSegmentsChecked) WAL files\(readData ? " read and checked" : " present"), "
                    + "\(report.bundlesChecked) git bundles, \(report.keySlotsChecked) key slots")
            }
        }
        if !report.problems.isEmpty {
            if !json { Console.error("\(report.problems.count) problems found in \(opened.location)") }
            throw ExitCode(ExitCodes.damaged)
        }
    }
}
