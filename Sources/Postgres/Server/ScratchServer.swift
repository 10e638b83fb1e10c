import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL server for a drill: a folder of its own (`pgdata`, `socket`), a free port number for its
/// unix socket (no TCP), never archiving (the restored configuration would otherwise archive into the production repository). `destroy()`
/// stops it and removes the folder.
public final class ScratchServer: Sendable {
    public let folder: String
    public let binDirectory: String
    private let state = Mutex<Int?>(nil)

    public var dataDirectory: String { folder + "/pgdata" }
    public var socketDirectory: String { folder + "/socket" }
    public var logFile: String { folder + "/socket/server.log" }
    /// The port, once started.
    public var port: Int? { state.withLock { $0 } }

    /// A libpq connection string for the restored server (its unix socket; it listens on no TCP address), once
    /// started.
    public func conninfo(user: String = "postgres", database: String = "postgres") -> String? {
        port.map { "host=\(socketDirectory) port=\($0) user=\(user) dbname=\(database)" }
    }

    /// The server's own access rules: trust on its unix socket only (the socket's folder is private to the server's
    /// user), whatever the restored `pg_hba.conf` says — the drill must not need production passwords, and a copy of
    /// production data must not be reachable over the network.
    public func writeAccessRules() throws {
        let path = folder + "/pg_hba.conf"
        guard FileManager.default.createFile(atPath: path, contents: Data("local all all trust\nlocal replication all trust\n".utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw PostgresError(message: "cannot write \(path)")
        }
        if let owner = try ServerUser.owner() { chown(path, owner.uid, owner.gid) }
    }

    /// Creates the folder: below `parent` (default: the temporary folder), named `lifeboat-scratch-…`.
    public init(parent: String? = nil, binDirectory: String) throws {
        let base = parent ?? FileManager.default.temporaryDirectory.path
        var template = Array((base + "/lifeboat-scratch-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw PostgresError(message: "cannot create a scratch folder in \(base): \(String(cString: strerror(errno)))")
        }
        folder = String(cString: made)
        self.binDirectory = binDirectory
        let owner = try ServerUser.owner()
        for path in [folder, socketDirectory] {
            if path != folder { mkdir(path, 0o700) }
            if let owner { chown(path, owner.uid, owner.gid) }
        }
    }

    /// Starts the server on the restored data directory; returns when it accepts connections (recovery may still
    /// be running: see `waitUntilWritable`).
    /// `archiveCommand` makes it archive (failover drills; by default it never does).
    public func start(timeout: Int = 3600, archiveCommand: String? = nil) throws {
        var lastError = ""
        for _ in 0..<5 {
            let port = try ServerUser.freePort()
            let archiving = archiveCommand.map { "-c archive_mode=on -c \"archive_command=\($0)\"" } ?? "-c archive_mode=off"
            let options = "-p \(port) -k \(socketDirectory) -c listen_addresses='' \(archiving) "
                + "-c hba_file=\(folder)/pg_hba.conf"
            let result = try ServerUser.run(binDirectory + "/pg_ctl",
                                            ["-D", dataDirectory, "-o", options, "-l", logFile, "-w", "-t", String(timeout), "start"])
            if result.status == 0 {
                state.withLock { $0 = port }
                return
            }
            lastError = result.output + logTail()
            if !lastError.contains("could not bind") && !lastError.contains("Address already in use") { break }
        }
        throw PostgresError(message: "the restored server did not start: \(lastError)")
    }

    /// Waits until recovery has ended and the server accepts writes; the server's log tail explains a failure.
    public func waitUntilWritable(timeout: TimeInterval, shouldStop: @Sendable () -> Bool = { false }) throws {
        guard let conninfo = conninfo() else { throw PostgresError(message: "the scratch server is not running") }
        let deadline = Date().addingTimeInterval(timeout)
        var lastProblem = ""
        while Date() < deadline && !shouldStop() {
            do {
                let connection = try PostgresConnection(conninfo: conninfo)
                defer { connection.close() }
                let row = try connection.query("SELECT pg_is_in_recovery()::text, current_setting('transaction_read_only')").rows.first
                if row?[0] == "false" && row?[1] == "off" { return }
                lastProblem = "still in recovery"
            } catch {
                lastProblem = "\(error)"
                if !processRunning() {
                    throw PostgresError(message: "the restored server stopped during recovery: \(logTail())")
                }
            }
            usleep(100_000)
        }
        throw PostgresError(message: shouldStop() ? "cancelled while the restored server was recovering"
            : "the restored server was not writable within \(Int(timeout)) s (\(lastProblem)): \(logTail())")
    }

    /// Stops the server (fast, then immediate) and removes the folder. Safe to call more than once.
    public func destroy() {
        if FileManager.default.fileExists(atPath: dataDirectory + "/postmaster.pid") {
            let pgctl = binDirectory + "/pg_ctl"
            let fast = try? ServerUser.run(pgctl, ["-D", dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"])
            if fast?.status != 0 {
                _ = try? ServerUser.run(pgctl, ["-D", dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"])
            }
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Makes this (empty) scratch server a streaming standby of `primary` (`pg_basebackup -R`).
    public func cloneStandby(of primary: ScratchServer) throws {
        guard let port = primary.port else { throw PostgresError(message: "the scratch primary is not running") }
        let result = try ServerUser.run(binDirectory + "/pg_basebackup",
                                        ["-D", dataDirectory, "-h", primary.socketDirectory, "-p", String(port), "-U", "postgres",
                                         "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
        guard result.status == 0 else { throw PostgresError(message: "pg_basebackup of the scratch primary failed: \(result.output)") }
        // A standby follows its primary's timeline, whatever recovery settings the primary was restored with.
        guard let handle = FileHandle(forWritingAtPath: dataDirectory + "/postgresql.auto.conf") else {
            throw PostgresError(message: "cannot open the scratch standby's postgresql.auto.conf")
        }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("recovery_target_timeline = 'latest'\n".utf8))
        try handle.close()
        try writeAccessRules()
    }

    /// Whether the folder still exists.
    public var exists: Bool { FileManager.default.fileExists(atPath: folder) }

    private func processRunning() -> Bool {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
              let pid = Int32(text.split(separator: "\n").first ?? "") else { return false }
        return kill(pid, 0) == 0
    }

    /// The last lines of the server's log.
    public func logTail(lines: Int = 8) -> String {
        let text = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}
