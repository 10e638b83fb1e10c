/// Every environment variable Lifeboat reads, named and documented in one place (`lifeboat --help` lists them).
///
/// Children Lifeboat starts (PostgreSQL servers, their archive and restore commands, git) never inherit a variable
/// with the `LIFEBOAT_` or `AWS_` prefix: they may hold secrets.
public struct EnvironmentVariable: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// What it sets, for `--help` and the README.
    public let meaning: String
    /// False for variables meant only for Lifeboat's own tests and fault injection (not listed in `--help`).
    public let documented: Bool

    private init(_ name: String, _ meaning: String, documented: Bool = true) {
        self.name = name
        self.meaning = meaning
        self.documented = documented
    }

    public var description: String { name }

    /// The prefix of every Lifeboat variable; none of them reaches a child process.
    public static let prefix = "LIFEBOAT_"
    /// Prefixes of variables children never inherit.
    public static let privatePrefixes = ["LIFEBOAT_", "AWS_"]

    public static let repository = EnvironmentVariable("LIFEBOAT_REPOSITORY", "repository location when --repo is not given")
    public static let passphrase = EnvironmentVariable(
        "LIFEBOAT_PASSPHRASE", "repository passphrase when no --passphrase-file or --key-file is given")
    public static let keyFile = EnvironmentVariable("LIFEBOAT_KEY_FILE", "key file (from `repo key export`) when no --key-file is given")
    public static let newPassphrase = EnvironmentVariable("LIFEBOAT_NEW_PASSPHRASE", "`repo key add`: the new passphrase")
    public static let inventory = EnvironmentVariable("LIFEBOAT_INVENTORY", "inventory file when --inventory is not given")
    public static let plans = EnvironmentVariable("LIFEBOAT_PLANS", "plans folder (default /etc/lifeboat/plans)")
    public static let stateDirectory = EnvironmentVariable(
        "LIFEBOAT_STATE_DIR", "state directory: catalog, logs, reports (default /var/lib/lifeboat as root)")
    public static let postgresBin = EnvironmentVariable(
        "LIFEBOAT_PG_BIN", "folder of pg_ctl and initdb (default /usr/lib/postgresql/15/bin)")
    public static let lockStaleAfter = EnvironmentVariable(
        "LIFEBOAT_LOCK_STALE_AFTER", "S3 repository locks: seconds after which another host may break this one's lock (default 600)")
    public static let s3Retries = EnvironmentVariable(
        "LIFEBOAT_S3_RETRIES", "S3 repositories: retries of a failed request when the inventory sets none (default 8)")
    /// `repo copy`: the credentials of one side, e.g. `LIFEBOAT_FROM_PASSPHRASE`, `LIFEBOAT_TO_KEY_FILE`.
    public static func copySide(_ side: String, _ credential: String) -> String { "LIFEBOAT_\(side)_\(credential)" }
    public static let fromPassphrase = EnvironmentVariable("LIFEBOAT_FROM_PASSPHRASE", "`repo copy`: the source's passphrase")
    public static let fromKeyFile = EnvironmentVariable("LIFEBOAT_FROM_KEY_FILE", "`repo copy`: the source's key file")
    public static let toPassphrase = EnvironmentVariable("LIFEBOAT_TO_PASSPHRASE", "`repo copy`: the destination's passphrase")
    public static let toKeyFile = EnvironmentVariable("LIFEBOAT_TO_KEY_FILE", "`repo copy`: the destination's key file")
    /// Set by Lifeboat for git's credential helper only; never read from the operator's environment.
    public static let gitUsername = EnvironmentVariable("LIFEBOAT_GIT_USERNAME", "internal: git mirror user name", documented: false)
    public static let gitPassword = EnvironmentVariable("LIFEBOAT_GIT_PASSWORD", "internal: git mirror password", documented: false)
    /// Fault injection for tests: `name=N[:stop]` kills (or stops) the process at the N-th pass of a failpoint.
    public static let failpoints = EnvironmentVariable("LIFEBOAT_FAILPOINTS", "tests: fault injection", documented: false)

    /// All of them, in the order `--help` lists them.
    public static let all: [EnvironmentVariable] = [
        repository, passphrase, keyFile, newPassphrase, fromPassphrase, fromKeyFile, toPassphrase, toKeyFile,
        inventory, plans, stateDirectory, postgresBin, lockStaleAfter, s3Retries, gitUsername, gitPassword, failpoints,
    ]

    /// The value in `environment`, nil when unset or empty.
    public func value(in environment: [String: String]) -> String? {
        environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The standard AWS variables S3 repositories read when the inventory and the location set nothing.
    public static let awsVariables = [
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE",
    ]

    /// True for a variable no child process may inherit.
    public static func isPrivate(_ name: String) -> Bool { privatePrefixes.contains { name.hasPrefix($0) } }
}
