import Foundation
import Repository
import LifeboatCore

/// Words for `/bin/sh` (PostgreSQL runs `restore_command` and `archive_command` through it).
public enum ShellQuoting {
    /// `text` as one shell word, whatever it holds (spaces, quotes, `$`).
    public static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// This running binary, for commands other processes run later (restore_command, cron lines, systemd units).
public enum LifeboatExecutable {
    /// `/proc/self/exe`, else `fallback` (argv[0] made absolute when nil).
    public static func path(fallback: String? = nil) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? fallback ?? Paths.absolute(CommandLine.arguments[0])
    }
}

/// The one place that builds the commands PostgreSQL runs for a restored server (`restore_command`,
/// `recovery_end_command`): this binary's `wal` subcommands against a repository, every path one shell word, with
/// a credential that needs no terminal, and for a bucket the credentials file PostgreSQL must be told about (it
/// does not inherit this process's `AWS_*` variables).
public struct WALCommandLine: Sendable {
    public enum Credential: Sendable {
        case keyFile(String)
        case passphraseFile(String)
    }

    public var repository: BackupRepository
    public var cluster: String
    public var credential: Credential
    /// For a bucket: the shared credentials file and profile PostgreSQL's commands read.
    public var credentialsFile: String?
    public var profile: String?

    public init(repository: BackupRepository, cluster: String, credential: Credential,
                credentialsFile: String? = nil, profile: String? = nil) {
        self.repository = repository
        self.cluster = cluster
        self.credential = credential
        self.credentialsFile = credentialsFile
        self.profile = profile
    }

    /// `… lifeboat wal SUBCOMMAND --repo R --cluster C --key-file K`; `subcommand` is given as PostgreSQL expects
    /// it (e.g. `fetch %f %p --lease ID`).
    public func command(_ subcommand: String) throws -> String {
        var prefix = ""
        var location = ShellQuoting.quote(Paths.absolute(repository.location))
        if let bucket = repository.store as? S3Store {
            guard let credentialsFile else {
                throw LifeboatError(.invalidInput, "PostgreSQL's restore_command needs S3 credentials it can read",
                                    hint: "put them in a shared credentials file readable by the server's user and set "
                                        + "AWS_SHARED_CREDENTIALS_FILE, or pass --no-archive")
            }
            prefix = "AWS_SHARED_CREDENTIALS_FILE=\(ShellQuoting.quote(Paths.absolute(credentialsFile))) "
                + (profile.map { "AWS_PROFILE=\(ShellQuoting.quote($0)) " } ?? "")
            location = ShellQuoting.quote(bucket.selfContainedLocation)
        }
        let secret = switch credential {
        case .keyFile(let path): "--key-file \(ShellQuoting.quote(Paths.absolute(path)))"
        case .passphraseFile(let path): "--passphrase-file \(ShellQuoting.quote(Paths.absolute(path)))"
        }
        return prefix + "\(ShellQuoting.quote(LifeboatExecutable.path())) wal \(subcommand) --repo \(location) "
            + "--cluster \(cluster) \(secret)"
    }
}
