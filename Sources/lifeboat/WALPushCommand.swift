import ArgumentParser
import Engine
import Foundation
import Postgres
import Repository
import LifeboatCore

struct WALPushCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Archive one WAL file (use as archive_command).",
        discussion: """
            archive_command = 'lifeboat wal push %p --repo /srv/lifeboat --key-file /etc/lifeboat/repo.key'
            Exits 0 only once the file is stored durably. Pushing the same content again succeeds; different \\
            content under an existing name is refused (exit 1) and nothing is overwritten.

            The file goes to its cluster's archive: the cluster is the data directory's (global/pg_control, \\
            which archive_command finds in its working directory), and a segment's own page header must name the \\
            same cluster, else nothing is written (exit 1). A .history file whose timeline branches off a \\
            timeline the cluster does not have is refused too. --cluster names the cluster when the file is \\
            pushed from outside its data directory.
            """
    )

    @Argument(help: "The WAL file (%p: relative to the data directory).")
    var path: String

    @Option(help: "The cluster's system identifier (default: the data directory's; a segment's own header must agree).")
    var cluster: String?

    @OptionGroup var repository: RepositoryArguments

    func validate() throws {
        if let cluster, !SystemIdentifier.isValid(cluster) {
            throw ValidationError("--cluster takes a system identifier (the digits pg_controldata shows)")
        }
    }

    func run() throws {
        let name = (path as NSString).lastPathComponent
        guard WALFileName.timeline(of: name) != nil else {
            throw LifeboatError(.invalidInput, "'\(name)' is not a WAL file name PostgreSQL archives")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LifeboatError(.runFailed, "cannot read \(path)")
        }
        let contents = Array(data)
        let cluster = try Self.cluster(of: path, name: name, contents: contents, given: cluster)
        let opened = try repository.open()
        _ = try opened.pushWAL(name: name, contents: contents, cluster: cluster)
    }

    /// The cluster a WAL file is archived for: `--cluster`, else the data directory's control file, else (for a
    /// segment pushed from elsewhere) its own page header. The repository checks that a segment agrees.
    static func cluster(of path: String, name: String, contents: [UInt8], given: String?) throws -> String {
        if let given { return given }
        let dataDirectory = ControlFile.dataDirectory(ofWALFile: path)
        do {
            if let identifier = try ControlFile.systemIdentifier(dataDirectory: dataDirectory) { return identifier }
        } catch {
            throw LifeboatError(.runFailed, "cannot tell which cluster \(name) belongs to: \(error)")
        }
        if WALFileName.hasPageHeader(name), let header = WALSegmentHeader(Array(contents.prefix(WALSegmentHeader.size))) {
            return String(header.systemIdentifier)
        }
        throw LifeboatError(.invalidInput, "cannot tell which cluster \(name) belongs to: no global/pg_control in "
            + "\(dataDirectory), and the file names no cluster itself",
            hint: "archive_command runs in the data directory; when pushing by hand, give --cluster SYSTEM-IDENTIFIER")
    }
}
