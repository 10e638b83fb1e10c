import ArgumentParser
import Engine
import Foundation
import Repository
import LifeboatCore

/// One side of a command that opens two repositories (`repo copy`, `repo init --replica-of`).
struct CopySide {
    var location: String
    var passphraseFile: String?
    var keyFile: String?
    /// `FROM` or `TO`: `LIFEBOAT_FROM_PASSPHRASE`, `LIFEBOAT_TO_KEY_FILE`, … (else the plain variables).
    var variablePrefix: String

    func open(names: InventoryNames?) throws -> BackupRepository {
        var options = RepositoryOptions(location: location, passphraseFile: passphraseFile, keyFile: keyFile)
        options.passphraseVariables = [EnvironmentVariable.copySide(variablePrefix, "PASSPHRASE"), EnvironmentVariable.passphrase.name]
        options.keyFileVariables = [EnvironmentVariable.copySide(variablePrefix, "KEY_FILE")]
        if let entry = names?.repository(location), passphraseFile == nil, keyFile == nil,
           options.environment[EnvironmentVariable.copySide(variablePrefix, "PASSPHRASE")] == nil {
            return try RepositoryAccess.open(entry, secrets: SecretResolver(environment: options.environment, redactor: Redactor()))
        }
        return try RepositoryAccess.open(options, names: names)
    }
}

struct RepoCopyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy backups and their WAL to another repository (only what it lacks).",
        discussion: """
            Chunks first, then each backup's manifest (a backup appears in the destination only complete), then \
            the WAL the destination's backups need, then git bundles newer than its newest. Run it again at any \
            time: backups and chunks already there are \
            not copied twice, and a copy that was interrupted leaves nothing half-visible.

            The repositories may have different passphrases. With different keys every object is decrypted \
            (and so checked) and encrypted again; a replica (`repo init --replica-of`) shares the key and gets \
            the objects as they are.

            Credentials: --from-passphrase-file/--from-key-file (else LIFEBOAT_FROM_PASSPHRASE, \
            LIFEBOAT_FROM_KEY_FILE, then LIFEBOAT_PASSPHRASE), the same with "to"; inventory names use the \
            inventory's.
            """
    )

    @Option(help: "The repository to copy from: a folder, s3://BUCKET/PREFIX, or an inventory name.")
    var from: String

    @Option(help: "The repository to copy to.")
    var to: String

    @Option(name: .customLong("from-passphrase-file")) var fromPassphraseFile: String?
    @Option(name: .customLong("from-key-file")) var fromKeyFile: String?
    @Option(name: .customLong("to-passphrase-file")) var toPassphraseFile: String?
    @Option(name: .customLong("to-key-file")) var toKeyFile: String?

    @Option(help: "Inventory for names (default: $LIFEBOAT_INVENTORY, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml).")
    var inventory: String?

    @Option(name: .customLong("backup"), help: "Copy only this backup (repeatable; default: every backup).")
    var backups: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let names = try InventoryNames.load(explicit: inventory)
        let source = try CopySide(location: from, passphraseFile: fromPassphraseFile, keyFile: fromKeyFile,
                                  variablePrefix: "FROM").open(names: names)
        let destination = try CopySide(location: to, passphraseFile: toPassphraseFile, keyFile: toKeyFile,
                                       variablePrefix: "TO").open(names: names)
        let progress: (@Sendable (String) -> Void)?
        if json || isatty(STDERR_FILENO) != 1 {
            progress = nil
        } else {
            progress = { note in FileHandle.standardError.write(Data((note + "\n").utf8)) }
        }
        let selected = backups.isEmpty ? nil : backups
        let report: CopyReport
        report = try source.copy(to: destination, backups: selected, progress: progress)
        if json {
            try Console.json(CopyOutput(report: report, requests: (destination.store as? S3Store)?.requestCount
                                            ?? (source.store as? S3Store)?.requestCount))
            return
        }
        Console.out(RepoCopyCommand.summary(report, from: source.location, to: destination.location))
    }

    static func summary(_ report: CopyReport, from: String, to: String) -> String {
        "copied \(report.backupsCopied.count) backups"
            + (report.backupsCopied.isEmpty ? "" : " (\(report.backupsCopied.joined(separator: ", ")))")
            + " to \(to): \(report.chunksCopied) chunks, \(report.walCopied) WAL files, "
            + (report.bundlesCopied > 0 ? "\(report.bundlesCopied) git bundles, " : "")
            + "\(Formatted.bytes(report.bytesWritten)) written in \(Formatted.duration(report.seconds)); "
            + "\(report.backupsPresent) backups and \(report.chunksPresent) chunks were there already"
            + (report.reencrypted ? " (keys differ: objects re-encrypted)" : " (replica: objects copied as stored)")
    }
}

/// `repo copy --json`: the report, and the requests sent to the object store (when one side is S3).
struct CopyOutput: Encodable {
    var report: CopyReport
    var requests: Int?

    func encode(to encoder: any Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(requests, forKey: .requests)
    }

    enum Key: String, CodingKey { case requests }
}
