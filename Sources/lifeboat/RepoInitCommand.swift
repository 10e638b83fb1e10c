import ArgumentParser
import Engine
import Foundation

struct RepoInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a repository in an empty or new folder, or an empty bucket prefix (s3://BUCKET/PREFIX).",
        discussion: """
            The passphrase comes from --passphrase-file, LIFEBOAT_PASSPHRASE, or a prompt on a terminal. \
            It wraps a random master key; losing every passphrase (and every exported key file) loses the backups.

            S3: credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or the shared credentials file, or the \
            inventory), endpoint and region from the location's query (?endpoint=https://…&region=…) or \
            AWS_ENDPOINT_URL/AWS_REGION. The bucket is created when it does not exist.

            --replica-of A makes a repository with A's key under its own passphrase: `repo copy` then moves \
            objects without re-encrypting them (A opens with --from-passphrase-file, --from-key-file or \
            LIFEBOAT_FROM_PASSPHRASE).
            """
    )

    @OptionGroup var repository: RepositoryArguments

    @Option(name: .customLong("compression-level"), help: "zstd level for new objects, 1-19.")
    var compressionLevel: Int = 3

    @Option(help: "A note stored with the key (who or what it is for).")
    var label: String?

    @Option(name: .customLong("replica-of"), help: "Share this repository's key (for `repo copy` without re-encryption).")
    var replicaOf: String?

    @Option(name: .customLong("from-passphrase-file")) var fromPassphraseFile: String?
    @Option(name: .customLong("from-key-file")) var fromKeyFile: String?

    func validate() throws {
        if replicaOf == nil && (fromPassphraseFile != nil || fromKeyFile != nil) {
            throw ValidationError("--from-passphrase-file and --from-key-file open the repository of --replica-of; give it")
        }
    }

    func run() throws {
        if let replicaOf {
            let names = try InventoryNames.load(explicit: repository.inventory)
            let source = try CopySide(location: replicaOf, passphraseFile: fromPassphraseFile, keyFile: fromKeyFile,
                                      variablePrefix: "FROM").open(names: names)
            let created = try RepositoryAccess.initialize(repository.options, replicaOf: source, label: label)
            Console.out("created replica of repository \(created.id) at \(created.location) (key \(created.openedKeyId ?? "-"))")
            return
        }
        let created = try RepositoryAccess.initialize(repository.options, compressionLevel: compressionLevel, label: label)
        Console.out("created repository \(created.id) at \(created.location) (key \(created.openedKeyId ?? "-"))")
    }
}
