import ArgumentParser
import Engine
import Foundation
import Mirrors
import Postgres
import Repository
import LifeboatCore

struct GitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git",
        abstract: "Mirror state and restoring code from bundles.",
        subcommands: [GitStatusCommand.self, GitRestoreCommand.self]
    )
}

struct GitStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each git source and mirror: last sync, its age, ref count, state.",
        discussion: "Exit 0 when every mirror's last sync succeeded, 1 when any failed."
    )

    @OptionGroup var state: StateOptions

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let catalog = try Catalog(state: StateDirectory.resolve(explicit: state.stateDir))
        let states = try catalog.gitSyncStates()
        let now = Date()
        struct Row: Encodable {
            var source, destination, state: String
            var lastSync: Date
            var lastSuccess: Date?
            var ageSeconds: Double?
            var refs: Int
            var preservedRefs: Int
            var error: String?
        }
        let preserved = try catalog.preservedRefs()
        let rows = states.map { entry in
            Row(source: entry.latest.source, destination: entry.latest.destination,
                state: entry.latest.succeeded ? "ok" : "FAILED", lastSync: entry.latest.endedAt,
                lastSuccess: entry.lastSuccess, ageSeconds: entry.lastSuccess.map { now.timeIntervalSince($0) },
                refs: entry.latest.refs,
                preservedRefs: preserved.filter { $0.source == entry.latest.source && $0.destination == entry.latest.destination }.count,
                error: entry.latest.error)
        }
        if json {
            try Console.json(rows)
        } else if rows.isEmpty {
            Console.out("no mirror syncs recorded in \(catalog.state.catalogPath)")
        } else {
            Console.out(Console.table(
                ["SOURCE", "MIRROR", "LAST SYNC (UTC)", "LAST SUCCESS", "AGE", "REFS", "PRESERVED", "STATE"],
                rows.map { [$0.source, $0.destination, Formatted.timestamp($0.lastSync),
                            $0.lastSuccess.map { Formatted.timestamp($0) } ?? "never",
                            $0.ageSeconds.map { Formatted.duration($0) } ?? "-", String($0.refs), String($0.preservedRefs), $0.state] }))
            for row in rows where row.error != nil { Console.warning("\(row.source) → \(row.destination): \(row.error!)") }
        }
        if rows.contains(where: { $0.state != "ok" }) { throw ExitCode(ExitCodes.runFailed) }
    }
}

struct GitRestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Bring a git source back from its newest bundle in a Lifeboat repository (a bare mirror with every ref).",
        discussion: """
            The repository is the git source's `repository:` in the inventory, or --repo. --at picks the newest \
            bundle stored at or before that UTC time. The target folder must not exist or be empty.
            """
    )

    @Argument(help: "The git source's name in the inventory.")
    var source: String

    @Option(help: "Where to create the bare repository.")
    var to: String

    @Option(help: "The newest bundle stored at or before this UTC time (ISO 8601).")
    var at: String?

    @OptionGroup var repository: RepositoryArguments

    func validate() throws {
        if let at, Restore.parseTime(at) == nil { throw ValidationError("cannot read --at '\(at)' (use e.g. 2026-11-26T02:30:00Z)") }
    }

    func run() async throws {
        var arguments = repository
        if arguments.location == nil {
            let names = try InventoryNames.load(explicit: repository.inventory)
            arguments.location = names?.inventory.entry(.git, source)?.fields["repository"]?.stringValue?.literalValue
            guard arguments.location != nil else {
                throw LifeboatError(.invalidInput, "git source '\(source)' names no repository in the inventory",
                                    hint: "give --repo, or add repository: NAME to the source in the inventory")
            }
        }
        let opened = try arguments.open()
        let bundles = try LifeboatError.wrapping { () throws(RepositoryError) in try opened.bundles(source: source) }
        let limit = at.flatMap(Restore.parseTime) ?? Date.distantFuture
        guard let bundle = bundles.last(where: { $0.created <= limit }) else {
            throw LifeboatError(.notFound, "no bundle of '\(source)' in \(opened.location)" + (at.map { " stored at or before \($0)" } ?? ""),
                                hint: "a git.mirror step with a repository stores them")
        }
        let to = Paths.absolute(self.to)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: to, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw LifeboatError(.invalidInput, "\(to) exists and is not a folder") }
            let contents: [String]
            do {
                contents = try FileManager.default.contentsOfDirectory(atPath: to)
            } catch {
                throw LifeboatError(.invalidInput, "cannot list \(to): \(error.localizedDescription)")
            }
            guard contents.isEmpty else { throw LifeboatError(.invalidInput, "\(to) is not empty") }
            // git clone creates the folder itself.
            do {
                try FileManager.default.removeItem(atPath: to)
            } catch {
                throw LifeboatError(.invalidInput, "cannot use \(to): \(error.localizedDescription)")
            }
        }
        let file = FileManager.default.temporaryDirectory.path + "/lifeboat-bundle-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try LifeboatError.wrapping { () throws(RepositoryError) in try opened.writeBundle(bundle, to: file) }
        do {
            try await MirrorSync(git: Git(), cacheRoot: FileManager.default.temporaryDirectory.path).restoreBundle(file, to: to)
        } catch {
            throw LifeboatError(.runFailed, "cannot clone the bundle: \(error)")
        }
        Console.out("restored \(source) from bundle \(bundle.id) (\(Formatted.timestamp(bundle.created)), \(bundle.refs.count) refs) into \(to)")
    }
}
