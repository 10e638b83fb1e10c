import ArgumentParser
import Engine
import Foundation
import Postgres
import Repository
import LifeboatCore

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into an empty folder and prepare point-in-time recovery.",
        discussion: """
            Writes the backup's files, then recovery settings: restore_command (this lifeboat's `wal fetch`, \
            opening the repository with the --key-file or --passphrase-file given here), the recovery target, the \
            timeline, archive_mode = off, and recovery.signal. Start PostgreSQL on the folder to recover. Every \
            chunk is authenticated and checked; damage stops the restore (exit 3) naming the file and backup.

            Cluster: a repository may hold several; --cluster picks one (default: the only one with backups).
            Timeline: the one still being archived (of the most recently archived segment), so that a test \
            restore that once archived its own timeline here cannot redirect recovery; --target-timeline N \
            overrides. Archiving: off in the restored server, so that it never archives into the repository it \
            came from; --archive-mode preserve keeps the backup's settings (a real failover or migration).
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(help: "The backup id, or latest (default: the newest, or the newest before --target-time).")
    var backup: String?

    @Option(name: .customLong("to"), help: "The new data directory (must be empty or missing).")
    var destination: String

    @Option(name: .customLong("target-time"), help: "Recover up to this time, e.g. '2026-11-26 02:30:00+00'.")
    var targetTime: String?

    @Option(name: .customLong("target-lsn"), help: "Recover up to this LSN.")
    var targetLSN: String?

    @Option(name: .customLong("target-name"), help: "Recover up to this restore point (pg_create_restore_point).")
    var targetName: String?

    @Option(help: "immediate (stop once consistent) or latest (all archived WAL, the default).")
    var target: String?

    @Option(name: .customLong("target-timeline"),
            help: "Timeline to follow: a number, latest (PostgreSQL's rule: the highest) or current (default: the one still being archived).")
    var targetTimeline: String?

    @Option(help: "The cluster to restore: a name its backups were taken under, or its system identifier (default: the only one).")
    var cluster: String?

    @Option(name: .customLong("archive-mode"),
            help: "off (default): the restored server does not archive. preserve: keep the backup's archive settings (failover, migration).")
    var archiveMode: String = "off"

    @Option(help: "OS user to own the restored files (the user PostgreSQL runs as), when running as root.")
    var owner: String?

    @Flag(help: "Restore into a folder holding an older copy: rewrite only what differs, remove what the backup lacks.")
    var delta = false

    @Option(name: .customLong("tablespace"), help: "Restore a tablespace elsewhere: OID=DIR (repeatable).")
    var tablespaces: [String] = []

    @Flag(name: .customLong("no-archive"), help: "Write no recovery settings: the backup alone, consistent, no WAL from the archive.")
    var noArchive = false

    @Flag(name: .customLong("allow-gap"),
          help: "Restore although WAL is missing between the backup and the target (recovery stops at the gap).")
    var allowGap = false

    @Flag(help: "Print a JSON summary.")
    var json = false

    func validate() throws {
        let targets = [targetTime, targetLSN, targetName, target].compactMap { $0 }
        if targets.count > 1 { throw ValidationError("give at most one of --target-time, --target-lsn, --target-name, --target") }
        if let target, !["immediate", "latest"].contains(target) {
            throw ValidationError("--target must be immediate or latest")
        }
        if noArchive && !targets.isEmpty && target != "latest" {
            throw ValidationError("--no-archive restores the backup alone; it cannot take a recovery target")
        }
        if let targetTimeline, TimelineChoice(targetTimeline) == nil {
            throw ValidationError("--target-timeline must be a timeline number, latest or current")
        }
        guard ArchiveMode(rawValue: archiveMode) != nil else { throw ValidationError("--archive-mode must be off or preserve") }
        if let targetTime, Restore.parseTime(targetTime) == nil {
            throw ValidationError("--target-time: cannot read '\(targetTime)' (use e.g. 2026-11-26T02:30:00Z)")
        }
        if let targetLSN, WALRange.parse(targetLSN) == nil {
            throw ValidationError("--target-lsn: cannot read '\(targetLSN)' (use e.g. 0/3000060)")
        }
    }

    func run() throws {
        let opened = try repository.open()
        let destination = Paths.absolute(self.destination)
        var options = Restore.Options(destination: destination)
        options.workers = opened.store.preferredConcurrency
        options.backup = backup
        options.target = if let targetTime { .time(targetTime) } else if let targetLSN { .lsn(targetLSN) }
            else if let targetName { .name(targetName) } else if target == "immediate" { .immediate } else { .latest }
        options.timeline = targetTimeline.flatMap(TimelineChoice.init) ?? .current
        options.cluster = cluster
        options.archiveMode = ArchiveMode(rawValue: archiveMode) ?? .off
        options.delta = delta
        options.allowGap = allowGap
        for mapping in tablespaces {
            let parts = mapping.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("/") else {
                throw LifeboatError(.invalidInput, "--tablespace takes OID=/absolute/dir, got '\(mapping)'")
            }
            options.tablespaceLocations[parts[0]] = parts[1]
        }
        if let owner {
            guard let entry = getpwnam(owner) else { throw LifeboatError(.invalidInput, "no OS user '\(owner)'") }
            options.owner = (entry.pointee.pw_uid, entry.pointee.pw_gid)
        }
        if TransferReport.isTerminal && !json { options.progress = TransferReport.show("restored") }
        let summary: Restore.Summary
        var selection: RecoverySelection
        var lease: RecoveryLease?
        var restored = false
        // A restore that did not finish ends its lease (one left behind would only hold expire back: say so).
        defer {
            if !restored, let lease {
                do {
                    try opened.endRecoveryLease(lease.id)
                } catch {
                    Console.warning("cannot end recovery lease \(lease.id) (\(error.message)); `lifeboat repo expire "
                        + "--end-lease \(lease.id)` ends it, or it lapses in \(Int(BackupRepository.leaseStaleAfter / 3600)) h")
                }
            }
        }
        var droppedTarget = false
        do {
            selection = try Restore.select(opened, backup: options.backup, cluster: options.cluster, target: options.target,
                                           timeline: options.timeline)
            // Held while files are written and, with recovery settings, while PostgreSQL fetches WAL: expire waits.
            // A store that refuses the write (read-only credentials) restores anyway, with a warning.
            do {
                lease = try opened.takeRecoveryLease(cluster: selection.manifest.systemIdentifier, purpose: "restore",
                                                     detail: "of backup \(selection.manifest.id) into \(destination)")
                // An expiry that was running meanwhile has finished; choose again on what it left.
                try opened.settleRecoveryLease()
                selection = try Restore.select(opened, backup: options.backup, cluster: options.cluster,
                                               target: options.target, timeline: options.timeline)
            } catch let error as RepositoryError where lease == nil {
                Console.warning("cannot take a recovery lease (\(error.message)): `repo expire` will not know of this "
                    + "recovery; run no expire on this repository until it has finished")
            }
            // Restoring past a gap on purpose: recovery replays up to it and promotes there, so a target beyond it
            // (which PostgreSQL would refuse to start without) is dropped.
            if selection.gap != nil, allowGap, options.target != .latest, options.target != .immediate {
                options.target = .latest
                droppedTarget = true
            }
            let keeper = lease.map { RecoveryLeaseKeeper(opened, lease: $0.id) }
            defer { keeper?.stop() }
            if !noArchive {
                let cluster = selection.manifest.systemIdentifier
                let leaseOption = lease.map { " --lease \($0.id)" } ?? ""
                options.restoreCommand = try walCommand("fetch %f %p" + leaseOption, opened, cluster: cluster)
                // At promotion the lease ends: expire may then remove what this recovery read.
                if let lease {
                    options.recoveryEndCommand = try walCommand("recovery-done --lease \(lease.id)", opened, cluster: cluster)
                }
            }
            summary = try Restore.run(from: opened, selection: selection, options: options)
            // Without recovery settings nothing fetches WAL later: the lease ends with the restore (the defer).
            restored = !noArchive
        } catch {
            TransferReport.endLine()
            throw error
        }
        if options.progress != nil { TransferReport.endLine() }
        for warning in selection.warnings { Console.warning(warning) }
        if let gap = selection.gap, !noArchive {
            Console.warning("restored with --allow-gap: \(gap); recovery will stop there, before the target"
                + (droppedTarget ? " (the recovery target was left out: PostgreSQL cannot reach it)" : ""))
        }
        if json {
            var output = RestoreSummary(summary, destination: destination)
            output.requests = (opened.store as? S3Store)?.requestCount
            output.cluster = selection.cluster.systemIdentifier
            output.clusterName = selection.cluster.displayName
            output.timeline = noArchive ? nil : selection.timeline
            output.timelineReason = noArchive ? nil : selection.timelineReason
            output.archiveMode = options.archiveMode.rawValue
            output.restorePointLSN = selection.restorePoint.map { WALRange.format($0.lsn) }
            try Console.json(output)
            return
        }
        Console.out("restored backup \(summary.backup.id) of cluster \(selection.cluster.label) into \(destination): "
            + "\(summary.files) files, \(Formatted.bytes(summary.bytes)) written"
            + (delta ? ", \(Formatted.bytes(summary.reusedBytes)) already right" : "")
            + " in \(Formatted.duration(summary.seconds)); start PostgreSQL on it to recover")
        if !noArchive { Console.out("recovery follows \(selection.timelineReason)") }
        if !noArchive, let lease {
            Console.out("recovery lease \(lease.id): `repo expire` removes nothing of this cluster until recovery ends "
                + "(or \(Int(BackupRepository.leaseStaleAfter / 3600)) h after PostgreSQL's last WAL fetch)")
        }
        if let point = selection.restorePoint, case .name(let name) = options.target {
            Console.out("recovery stops at restore point '\(name)' at \(WALRange.format(point.lsn)) "
                + "(\(Formatted.timestamp(point.time))), the first after backup \(summary.backup.id)")
        }
        Console.out(options.archiveMode == .off
            ? "archive_mode is off in the restored server: it will not archive into any repository "
                + "(for a failover or migration, restore with --archive-mode preserve)"
            : "the backup's archive settings are kept (--archive-mode preserve): started, this server archives "
                + "like the original")
    }

    /// A command for PostgreSQL (`restore_command`, `recovery_end_command`): this binary's `wal SUBCOMMAND`, with the
    /// credential given here (a key or passphrase file: the server has no terminal and none of this shell's variables).
    private func walCommand(_ subcommand: String, _ opened: BackupRepository, cluster: String) throws -> String {
        let credential: WALCommandLine.Credential
        if let keyFile = repository.keyFile ?? ProcessInfo.processInfo.environment[EnvironmentVariable.keyFile.name] {
            credential = .keyFile(keyFile)
        } else if let passphraseFile = repository.passphraseFile {
            credential = .passphraseFile(passphraseFile)
        } else {
            throw LifeboatError(.invalidInput, "PostgreSQL's restore_command needs a key file or passphrase file to open the repository",
                                hint: "pass --key-file (from `lifeboat repo key export`) or --passphrase-file, or --no-archive")
        }
        var line = WALCommandLine(repository: opened, cluster: cluster, credential: credential)
        if opened.store is S3Store {
            let environment = ProcessInfo.processInfo.environment
            line.credentialsFile = (environment["AWS_SHARED_CREDENTIALS_FILE"] ?? environment["HOME"].map { $0 + "/.aws/credentials" })
                .flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
            line.profile = environment["AWS_PROFILE"]
        }
        return try line.command(subcommand)
    }
}

/// `restore --json`.
struct RestoreSummary: Encodable {
    var backup: String
    var destination: String
    var files: Int
    var bytes: Int64
    var reusedBytes: Int64
    var seconds: Double
    /// Requests sent to the object store, for an S3 repository.
    var requests: Int?
    var cluster: String?
    var clusterName: String?
    /// The timeline recovery follows (nil: PostgreSQL's latest, or no recovery settings), and why.
    var timeline: UInt32?
    var timelineReason: String?
    var archiveMode: String?
    var restorePointLSN: String?

    init(_ summary: Restore.Summary, destination: String) {
        backup = summary.backup.id
        self.destination = destination
        files = summary.files
        bytes = summary.bytes
        reusedBytes = summary.reusedBytes
        seconds = summary.seconds
    }
}
