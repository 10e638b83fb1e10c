import Foundation
import Plans
import Repository
import LifeboatCore

/// Where a repository is and how to open it, as given on the command line or in the environment.
public struct RepositoryOptions: Sendable {
    /// The repository folder (`--repo`, else `LIFEBOAT_REPOSITORY`).
    public var location: String?
    /// A file holding the passphrase (`--passphrase-file`); else `LIFEBOAT_PASSPHRASE`.
    public var passphraseFile: String?
    /// A key file from `repo key export` (`--key-file`, else `LIFEBOAT_KEY_FILE`); needs no key derivation.
    public var keyFile: String?
    /// A passphrase already in hand (from a plan's inventory, resolved when the step runs).
    public var passphrase: [UInt8]?
    /// How to reach an `s3://` location (from the inventory); the `AWS_*` variables fill in the rest.
    public var s3 = S3Settings()
    /// The variables read when no passphrase or key file is given (commands that open two repositories name
    /// one pair per side).
    public var passphraseVariables = [EnvironmentVariable.passphrase.name]
    public var keyFileVariables = [EnvironmentVariable.keyFile.name]
    /// Opens a repository of an older format too (for `wal fetch` and `repo upgrade` only).
    public var allowingOlderFormat = false
    public var environment: [String: String]

    public init(location: String? = nil, passphraseFile: String? = nil, keyFile: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.location = location
        self.passphraseFile = passphraseFile
        self.keyFile = keyFile
        self.environment = environment
    }

    public func resolvedLocation() throws(LifeboatError) -> String {
        if let location, !location.isEmpty { return location }
        if let location = environment[EnvironmentVariable.repository.name], !location.isEmpty { return location }
        throw LifeboatError(.invalidInput, "no repository given", hint: "pass --repo PATH or set LIFEBOAT_REPOSITORY")
    }
}

/// Opening and creating repositories for commands, with errors turned into Lifeboat's exit-code categories.
public enum RepositoryAccess {
    /// The passphrase from `--passphrase-file`, `LIFEBOAT_PASSPHRASE`, or (on a terminal) a prompt.
    public static func passphrase(_ options: RepositoryOptions, file: String?, variable: String,
                                  prompt: String, confirm: Bool = false) throws(LifeboatError) -> [UInt8] {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw LifeboatError(.invalidInput, "cannot read passphrase file \(file)")
            }
            var bytes = Array(data)
            while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
            guard !bytes.isEmpty else { throw LifeboatError(.invalidInput, "passphrase file \(file) is empty") }
            return bytes
        }
        if let value = options.environment[variable], !value.isEmpty { return Array(value.utf8) }
        guard isatty(STDIN_FILENO) == 1 else {
            throw LifeboatError(.invalidInput, "no passphrase given",
                                hint: "set \(variable), or pass --passphrase-file FILE (or --key-file FILE where accepted)")
        }
        let first = readSecret(prompt + ": ")
        if confirm {
            let second = readSecret("again: ")
            guard first == second else { throw LifeboatError(.invalidInput, "the passphrases differ") }
        }
        guard !first.isEmpty else { throw LifeboatError(.invalidInput, "the passphrase is empty") }
        return first
    }

    /// The store a location names: a folder, or a bucket reached with `options.s3` and the `AWS_*` variables.
    public static func store(_ options: RepositoryOptions) throws(LifeboatError) -> any ObjectStore {
        let location = try options.resolvedLocation()
        return try LifeboatError.wrapping { () throws(RepositoryError) in
            try ObjectStores.store(for: location, s3: options.s3, environment: options.environment)
        }
    }

    /// Opens the repository with a key file if one is given, else with a passphrase.
    public static func open(_ options: RepositoryOptions) throws(LifeboatError) -> BackupRepository {
        let store = try store(options)
        let location = store.location
        do {
            let older = options.allowingOlderFormat
            _ = try BackupRepository.readConfig(in: store, allowingOlderFormat: older)
            let keyFileVariable = options.keyFileVariables.lazy.compactMap { options.environment[$0] }.first { !$0.isEmpty }
            if let keyFile = options.keyFile ?? (options.passphraseFile == nil ? keyFileVariable : nil) {
                return try BackupRepository.open(store, credential: .keyFile(keyFile), allowingOlderFormat: older)
            }
            let variable = options.passphraseVariables.first { !(options.environment[$0] ?? "").isEmpty }
                ?? options.passphraseVariables[0]
            let secret = try options.passphrase ?? passphrase(options, file: options.passphraseFile, variable: variable,
                                                              prompt: "passphrase for \(location)")
            return try BackupRepository.open(store, credential: .passphrase(secret), allowingOlderFormat: older)
        } catch {
            throw LifeboatError(any: error)
        }
    }

    /// Creates a replica of `source` (same key and id, its own passphrase): copies to it move sealed objects.
    public static func initialize(_ options: RepositoryOptions, replicaOf source: BackupRepository, label: String?)
        throws(LifeboatError) -> BackupRepository {
        let store = try store(options)
        let secret: [UInt8]
        if let given = options.passphrase {
            secret = given
        } else {
            secret = try passphrase(options, file: options.passphraseFile, variable: options.passphraseVariables[0],
                                    prompt: "passphrase for the new replica", confirm: true)
        }
        return try LifeboatError.wrapping { () throws(RepositoryError) in
            try BackupRepository.initialize(in: store, replicaOf: source, passphrase: secret, label: label)
        }
    }

    public static func initialize(_ options: RepositoryOptions, compressionLevel: Int, label: String?)
        throws(LifeboatError) -> BackupRepository {
        let store = try store(options)
        let secret = try passphrase(options, file: options.passphraseFile, variable: EnvironmentVariable.passphrase.name,
                                    prompt: "passphrase for the new repository", confirm: true)
        do {
            return try BackupRepository.initialize(in: store, passphrase: secret, label: label,
                                                   compressionLevel: compressionLevel)
        } catch {
            throw LifeboatError(error)
        }
    }

    private static func readSecret(_ prompt: String) -> [UInt8] {
        // getpass turns echo off on the terminal; the value is copied out and the static buffer cleared.
        guard let pointer = getpass(prompt) else { return [] }
        let bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self),
                                              count: strlen(pointer)))
        memset(pointer, 0, strlen(pointer))
        return bytes
    }
}

extension RepositoryAccess {
    /// Opens the inventory repository a step names, reading its secrets now.
    public static func open(_ entry: InventoryEntry, secrets: SecretResolver,
                            allowingOlderFormat: Bool = false) throws -> BackupRepository {
        guard let location = try entry.fields["location"]?.stringValue.map({ try secrets.resolve($0) }) else {
            throw LifeboatError(.invalidInput, "repository '\(entry.name)' has no location")
        }
        var options = RepositoryOptions(location: location, environment: secrets.environment)
        options.allowingOlderFormat = allowingOlderFormat
        options.s3 = try s3Settings(entry, secrets: secrets)
        if let keyFile = entry.fields["key_file"]?.stringValue {
            options.keyFile = try secrets.resolve(keyFile)
        } else if let passphrase = entry.fields["passphrase"]?.stringValue {
            options.passphrase = Array(try secrets.resolve(passphrase).utf8)
        } else {
            throw LifeboatError(.invalidInput, "repository '\(entry.name)' has neither a passphrase nor a key_file",
                                hint: "add passphrase: ${env:NAME} or key_file: PATH to it in \(entry.location.file)")
        }
        return try open(options)
    }
}

extension RepositoryAccess {
    /// The `s3:` settings of an inventory repository, secrets resolved.
    public static func s3Settings(_ entry: InventoryEntry, secrets: SecretResolver) throws -> S3Settings {
        var settings = S3Settings()
        for field in entry.fields["s3"]?.mapValue ?? [] {
            let text = try field.value.stringValue.map { try secrets.resolve($0) }
            switch field.key {
            case "endpoint": settings.endpoint = text
            case "region": settings.region = text
            case "addressing": settings.addressing = text.flatMap(S3Settings.Addressing.init(rawValue:))
            case "access_key_id": settings.accessKeyId = text
            case "secret_access_key": settings.secretAccessKey = text
            case "session_token": settings.sessionToken = text
            case "ca_bundle": settings.caBundle = text
            case "part_size": if case .byteSize(let size) = field.value { settings.partSize = Int(size.bytes) }
            case "retries": settings.retries = field.value.integerValue
            default: break
            }
        }
        return settings
    }
}

extension LifeboatError {
    /// Runs a repository operation, turning its error into the command error with the right exit code.
    public static func wrapping<T>(_ body: () throws(RepositoryError) -> T) throws(LifeboatError) -> T {
        do {
            return try body()
        } catch {
            throw LifeboatError(error)
        }
    }
}
