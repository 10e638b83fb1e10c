import Foundation
import Postgres

/// A throwaway PostgreSQL 15 server for tests: `initdb` in a temp folder, a free loopback port, its unix socket in
/// the temp folder. As root, the files belong to the `postgres` user and the server runs as that user (`runuser`).
///
/// Use `PostgresCluster.with { cluster in ... }`: the server is stopped and its folder removed however the body ends.
public final class PostgresCluster: Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    public let binDirectory: String

    public var dataDirectory: String { directory.file("pgdata") }
    public var socketDirectory: String { directory.file("socket") }
    public var logFile: String { directory.file("socket/server.log") }

    /// A libpq connection string for the superuser `postgres` over the unix socket.
    public func conninfo(database: String = "postgres") -> String {
        "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)"
    }

    /// The same over TCP on 127.0.0.1.
    public func tcpConninfo(database: String = "postgres") -> String {
        "host=127.0.0.1 port=\(port) user=postgres dbname=\(database)"
    }

    /// Starts a cluster, runs `body`, then stops and removes it, also when `body` throws.
    public static func with<T>(settings: String = "", separateWAL: Bool = false,
                               _ body: (PostgresCluster) async throws -> T) async throws -> T {
        let cluster = try PostgresCluster.start(settings: settings, separateWAL: separateWAL)
        defer { cluster.stop() }
        return try await body(cluster)
    }

    /// The folder with `initdb` and `pg_ctl`: `LIFEBOAT_PG_BIN`, else PostgreSQL 15's Debian location.
    public static func findBinDirectory() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["LIFEBOAT_PG_BIN"], "/usr/lib/postgresql/15/bin"]
        for case let candidate? in candidates where FileManager.default.isExecutableFile(atPath: candidate + "/initdb") {
            return candidate
        }
        throw FixtureError("PostgreSQL 15 server binaries not found; run Scripts/bootstrap.sh (installs postgresql-15)")
    }

    /// Starts a cluster; `settings` lines are appended to postgresql.conf (e.g. archive_mode and archive_command).
    /// With `separateWAL`, `pg_wal` is a link to a folder beside the data directory (`initdb --waldir`).
    public static func start(settings extra: String = "", separateWAL: Bool = false) throws -> PostgresCluster {
        let binDirectory = try findBinDirectory()
        let directory = try TemporaryDirectory(prefix: "lifeboat-pg")
        do {
            let asRoot = geteuid() == 0
            for folder in ["pgdata", "socket"] + (separateWAL ? ["waldir"] : []) {
                try FileManager.default.createDirectory(atPath: directory.file(folder), withIntermediateDirectories: false,
                                                        attributes: [.posixPermissions: 0o700])
                if asRoot { try ownByPostgres(directory.file(folder)) }
            }
            try runAsServerUser(binDirectory + "/initdb",
                                ["-D", directory.file("pgdata"), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]
                                    + (separateWAL ? ["--waldir", directory.file("waldir")] : []))
            let settings = """

                listen_addresses = '127.0.0.1'
                wal_level = replica
                max_wal_senders = 10
                fsync = off
                shared_buffers = 32MB
                \(extra)

                """
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.file("pgdata/postgresql.conf")))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(settings.utf8))
            try handle.close()

            return try launch(directory: directory, binDirectory: binDirectory, options: "")
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Starts a server on a data directory that a test prepared (e.g. restored) at `directory/pgdata`, owned by the
    /// server's user. `options` are extra server options (e.g. `-c archive_mode=off`). The folder is removed by `stop`,
    /// or at once when the server does not start.
    public static func start(existing directory: TemporaryDirectory, options: String = "") throws -> PostgresCluster {
        do {
            let binDirectory = try findBinDirectory()
            let socket = directory.file("socket")
            try FileManager.default.createDirectory(atPath: socket, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            if geteuid() == 0 { try ownByPostgres(socket) }
            return try launch(directory: directory, binDirectory: binDirectory, options: options)
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Starts a streaming standby of `primary` (`pg_basebackup -R`), with the primary's configuration.
    public static func standby(of primary: PostgresCluster) throws -> PostgresCluster {
        let directory = try TemporaryDirectory(prefix: "lifeboat-pg-standby")
        do {
            for folder in ["pgdata", "socket"] {
                try FileManager.default.createDirectory(atPath: directory.file(folder), withIntermediateDirectories: false,
                                                        attributes: [.posixPermissions: 0o700])
                if geteuid() == 0 { try ownByPostgres(directory.file(folder)) }
            }
            try runAsServerUser(primary.binDirectory + "/pg_basebackup",
                                ["-D", directory.file("pgdata"), "-h", primary.socketDirectory, "-p", String(primary.port),
                                 "-U", "postgres", "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
            return try launch(directory: directory, binDirectory: primary.binDirectory, options: "")
        } catch {
            directory.remove()
            throw error
        }
    }

    private static func launch(directory: TemporaryDirectory, binDirectory: String, options: String) throws -> PostgresCluster {
        var lastError = ""
        for _ in 0..<5 {
            let port = try freePort()
            let result = try runAsServerUser(
                binDirectory + "/pg_ctl",
                ["-D", directory.file("pgdata"), "-o", "-p \(port) -k \(directory.file("socket")) \(options)",
                 "-l", directory.file("socket/server.log"), "-w", "-t", "120", "start"],
                check: false)
            if result.status == 0 {
                return PostgresCluster(directory: directory, port: port, binDirectory: binDirectory)
            }
            lastError = result.stdout + result.stderr
                + ((try? String(contentsOfFile: directory.file("socket/server.log"), encoding: .utf8)) ?? "")
            if !lastError.contains("could not bind") && !lastError.contains("Address already in use") { break }
        }
        throw FixtureError("PostgreSQL did not start: \(lastError)")
    }

    /// The server's log so far (for test failure messages).
    public var serverLog: String {
        (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
    }

    private init(directory: TemporaryDirectory, port: Int, binDirectory: String) {
        self.directory = directory
        self.port = port
        self.binDirectory = binDirectory
    }

    /// Opens a connection through Lifeboat's libpq wrapper.
    public func connect(database: String = "postgres") throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo(database: database))
    }

    /// Stops the server (fast shutdown, then immediate) and removes its folder.
    public func stop() {
        let pgctl = binDirectory + "/pg_ctl"
        let fast = try? Self.runAsServerUser(pgctl, ["-D", dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"],
                                             check: false)
        if fast?.status != 0 {
            _ = try? Self.runAsServerUser(pgctl, ["-D", dataDirectory, "-m", "immediate", "-w", "stop"], check: false)
        }
        directory.remove()
    }

    // MARK: - Helpers

    @discardableResult
    static func runAsServerUser(_ program: String, _ arguments: [String], check: Bool = true) throws -> ProcessResult {
        let result = geteuid() == 0
            ? try ProcessRunner.run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
            : try ProcessRunner.run(program, arguments)
        if check && result.status != 0 {
            throw FixtureError("\(program) failed (\(result.status)): \(result.stderr)\(result.stdout)")
        }
        return result
    }

    /// As root, hands `path` (and everything below it) to the `postgres` user, so the server's archive and
    /// restore commands can use it. Does nothing for other users.
    public static func shareWithServer(_ path: String) throws {
        guard geteuid() == 0 else { return }
        try runAsRoot("/bin/chown", ["-R", "postgres:postgres", path])
    }

    private static func runAsRoot(_ program: String, _ arguments: [String]) throws {
        let result = try ProcessRunner.run(program, arguments)
        if result.status != 0 { throw FixtureError("\(program) failed: \(result.stderr)") }
    }

    private static func ownByPostgres(_ path: String) throws {
        guard let user = getpwnam("postgres") else {
            throw FixtureError("running as root, but there is no 'postgres' user (install postgresql-15)")
        }
        guard chown(path, user.pointee.pw_uid, user.pointee.pw_gid) == 0 else {
            throw FixtureError("chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() throws -> Int { try ServerUser.freePort() }
}
