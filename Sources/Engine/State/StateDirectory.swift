import Foundation
import LifeboatCore

/// Where Lifeboat keeps its local state: the catalog, per-run logs and locks.
///
/// Chosen by `--state-dir`, else `LIFEBOAT_STATE_DIR`, else `/var/lib/lifeboat` for root and
/// `$XDG_STATE_HOME/lifeboat` (default `~/.local/state/lifeboat`) for other users.
/// It is a cache of what happened; the backup repository, not this folder, is the source of truth.
public struct StateDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// Resolves the state directory from an explicit path, the environment, or the default.
    public static func resolve(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> StateDirectory {
        if let explicit, !explicit.isEmpty { return StateDirectory(path: explicit) }
        if let fromEnvironment = environment[EnvironmentVariable.stateDirectory.name], !fromEnvironment.isEmpty {
            return StateDirectory(path: fromEnvironment)
        }
        if geteuid() == 0 { return StateDirectory(path: "/var/lib/lifeboat") }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return StateDirectory(path: xdg + "/lifeboat")
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return StateDirectory(path: home + "/.local/state/lifeboat")
    }

    public var catalogPath: String { path + "/catalog.sqlite" }
    public var logsPath: String { path + "/logs" }
    public var locksPath: String { path + "/locks" }
    public var reportsPath: String { path + "/reports" }

    public func logPath(run: String) -> String { logsPath + "/\(run).log" }

    /// Creates the folders (mode 0700: logs may name hosts and databases).
    public func prepare() throws {
        do {
            for folder in [path, logsPath, locksPath, reportsPath] {
                try FileManager.default.createDirectory(
                    atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw LifeboatError(.state, "cannot create the state directory \(path): \(error.localizedDescription)",
                                hint: "choose another with --state-dir or LIFEBOAT_STATE_DIR")
        }
    }
}
