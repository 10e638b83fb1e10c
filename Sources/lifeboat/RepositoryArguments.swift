import ArgumentParser
import Engine

/// Options every repository command takes.
struct RepositoryArguments: ParsableArguments {
    @Option(name: .customLong("repo"), help: "The repository folder (default: $LIFEBOAT_REPOSITORY).")
    var location: String?

    @Option(name: .customLong("passphrase-file"), help: "Read the passphrase from this file (default: $LIFEBOAT_PASSPHRASE).")
    var passphraseFile: String?

    @Option(name: .customLong("key-file"), help: "Open with a key file from `repo key export` (default: $LIFEBOAT_KEY_FILE).")
    var keyFile: String?

    var options: RepositoryOptions {
        RepositoryOptions(location: location, passphraseFile: passphraseFile, keyFile: keyFile)
    }
}
