import ArgumentParser
import Engine
import Foundation
import Repository
import LifeboatCore

struct RepoUpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Upgrade a repository of an older format in place (format 2 → 3: WAL kept per cluster).",
        discussion: """
            Moves every archived WAL file into its cluster's folder (the cluster read from each segment's own \
            header), records each cluster, then marks the repository format 3, and only then removes the old \
            files. A file whose cluster cannot be told stops it before anything changes, named; --assign says \
            whose it is. Safe to interrupt: before the format changes, the repository is still a complete format 2 \
            repository; after, a complete format 3 one. Run it again to finish. It takes the repository lock: \
            no backup, gc or expire may run meanwhile; WAL pushes to the repository are refused until it is \
            done (PostgreSQL keeps the WAL and retries).
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("assign"),
            help: "Whose an old WAL file is when it cannot be told from the files: PATH=SYSTEM-IDENTIFIER, e.g. wal/00000002/00000002.history=7301234567890123456 (repeatable).")
    var assignments: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    func validate() throws {
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, SystemIdentifier.isValid(String(parts[1])) else {
                throw ValidationError("--assign takes PATH=SYSTEM-IDENTIFIER, got '\(assignment)'")
            }
        }
    }

    func run() throws {
        let opened = try repository.open(allowingOlderFormat: true)
        var progress: (@Sendable (String) -> Void)?
        if !json && TransferReport.isTerminal {
            progress = { @Sendable note in FileHandle.standardError.write(Data((note + "\n").utf8)) }
        }
        var assigned: [String: String] = [:]
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            assigned[parts[0]] = parts[1]
        }
        let chosen = assigned
        let report = try LifeboatError.wrapping { () throws(RepositoryError) in
            try opened.upgradeFormat(assignments: chosen, progress: progress)
        }
        if json {
            try Console.json(report)
        } else if report.fromFormat == report.toFormat && report.walRemoved == 0 {
            Console.out("\(opened.location) is repository format \(report.toFormat) already; nothing to do")
        } else {
            Console.out("\(opened.location) upgraded from format \(report.fromFormat) to \(report.toFormat): "
                + "\(report.walMoved) WAL files moved into the folders of \(report.clusters.count) "
                + "cluster\(report.clusters.count == 1 ? "" : "s") (\(report.clusters.joined(separator: ", "))), "
                + "\(report.walRemoved) old files removed")
        }
        for path in report.unattributed {
            Console.warning("\(path): cannot tell which cluster it belongs to; left where it is (format 3 does not read it)")
        }
    }
}
