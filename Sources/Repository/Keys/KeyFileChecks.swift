import Foundation
import LifeboatCore

/// When an exported key file was last written or proven to open the repository (`repo key export`,
/// `repo key check`): with a single key slot, that file is the only way back should the passphrase be lost.
public struct KeyFileCheck: Codable, Sendable, Equatable {
    public var time: Date
    public var action: String
    public var path: String
    public var host: String
    public var user: String
}

extension BackupRepository {
    static let keyFileCheckPath = "key-file-check"
    static let keyFileCheckKind = ObjectKind(rawValue: "key-file-check")
    /// A single key slot without a key file checked within this time is warned about.
    public static let keyFileCheckMaxAge: TimeInterval = 90 * 24 * 3600

    /// Records that an exported key file was written (`export`) or proven (`check`) just now.
    public func recordKeyFileCheck(action: String, path: String, now: Date = Date()) throws(RepositoryError) {
        let record = KeyFileCheck(time: now, action: action, path: path, host: ProcessInfo.processInfo.hostName,
                                  user: ProcessInfo.processInfo.environment["USER"] ?? String(getuid()))
        _ = try putObject(RepositoryJSON.encode(record), kind: Self.keyFileCheckKind, path: Self.keyFileCheckPath,
                          mode: .replace)
    }

    public func lastKeyFileCheck() throws(RepositoryError) -> KeyFileCheck? {
        guard let bytes = try object(kind: Self.keyFileCheckKind, path: Self.keyFileCheckPath) else { return nil }
        return try RepositoryJSON.decode(KeyFileCheck.self, bytes, what: Self.keyFileCheckPath)
    }

    /// A warning when losing one passphrase would lose every backup: a single sound key slot and no exported key
    /// file written or checked within `keyFileCheckMaxAge`.
    public func singleKeyWarning(now: Date = Date()) throws(RepositoryError) -> String? {
        let sound = try keys().filter { $0.damage == nil }
        guard sound.count <= 1 else { return nil }
        let last = try lastKeyFileCheck()
        if let last, now.timeIntervalSince(last.time) <= Self.keyFileCheckMaxAge { return nil }
        let since = last.map { "; the last exported key file was checked on \(Formatted.timestamp($0.time))" } ?? ""
        return "repository \(location) has a single key slot and no exported key file checked in the last 90 days"
            + "\(since): losing that passphrase loses every backup"
    }

    public static let singleKeyHint = "add a second passphrase (`lifeboat repo key add`), or export a key file, keep it "
        + "safe, and prove it now and then (`lifeboat repo key export --to FILE`, `lifeboat repo key check --key-file FILE`)"
}
