import ArgumentParser
import Engine
import Repository

/// Options every repository command takes.
struct RepositoryArguments: ParsableArguments {
    @Option(name: .customLong("repo"), help: "The repository folder, or its name in the inventory (default: $LIFEBOAT_REPOSITORY).")
    var location: String?

    @Option(help: "Inventory for names (default: $LIFEBOAT_INVENTORY, ./lifeboat.yaml, /etc/lifeboat/lifeboat.yaml).")
    var inventory: String?

    @Option(name: .customLong("passphrase-file"), help: "Read the passphrase from this file (default: $LIFEBOAT_PASSPHRASE).")
    var passphraseFile: String?

    @Option(name: .customLong("key-file"), help: "Open with a key file from `repo key export` (default: $LIFEBOAT_KEY_FILE).")
    var keyFile: String?

    var options: RepositoryOptions {
        RepositoryOptions(location: location, passphraseFile: passphraseFile, keyFile: keyFile)
    }

    /// Opens the repository named or located by `--repo`; with `allowingOlderFormat`, one of an older format too
    /// (`wal fetch`, `repo upgrade`).
    func open(allowingOlderFormat: Bool = false) throws -> BackupRepository {
        var options = self.options
        options.allowingOlderFormat = allowingOlderFormat
        return try RepositoryAccess.open(options, names: try InventoryNames.load(explicit: inventory))
    }
}
