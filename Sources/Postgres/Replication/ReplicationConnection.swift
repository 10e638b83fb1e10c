internal import CLibPQ
import Foundation

/// What `IDENTIFY_SYSTEM` reports.
public struct SystemIdentity: Sendable, Equatable {
    public var systemIdentifier: String
    public var timeline: Int
    public var walPosition: String
}

/// A physical replication connection (`replication=true`), for `IDENTIFY_SYSTEM` and `BASE_BACKUP`.
///
/// Not thread-safe and not `Sendable`: one thread drives it.
public final class ReplicationConnection {
    private var handle: OpaquePointer?
    private let notices = NoticeSink()

    /// Server notices (e.g. "all required WAL segments have been archived"), kept instead of printed: libpq's
    /// default prints them to standard error, which would break cron's silence.
    public var serverNotices: [String] { notices.messages }

    /// Connects with `conninfo` plus `replication=true` (works for key=value strings and postgres:// URIs).
    public init(conninfo: String) throws(PostgresError) {
        let replicationInfo: String
        if conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://") {
            replicationInfo = conninfo + (conninfo.contains("?") ? "&" : "?") + "replication=true"
        } else {
            replicationInfo = conninfo + " replication=true"
        }
        let conn = PQconnectdb(replicationInfo)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { String(cString: PQerrorMessage($0)) } ?? "out of memory"
            if let conn { PQfinish(conn) }
            throw PostgresError(message: "cannot open a replication connection: \(message.trimmed)")
        }
        handle = conn
        notices.install(on: conn)
    }

    deinit { close() }

    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    public var serverVersion: Int { handle.map { Int(PQserverVersion($0)) } ?? 0 }

    public func identifySystem() throws(PostgresError) -> SystemIdentity {
        let result = try simpleQuery("IDENTIFY_SYSTEM")
        guard let row = result.rows.first, row.count >= 3, let system = row[0], let timeline = row[1].flatMap({ Int($0) }),
              let position = row[2]
        else { throw PostgresError(message: "IDENTIFY_SYSTEM returned an unexpected result") }
        return SystemIdentity(systemIdentifier: system, timeline: timeline, walPosition: position)
    }

    /// A server setting (`SHOW` works on replication connections).
    public func setting(_ name: String) throws(PostgresError) -> String {
        guard let value = try simpleQuery("SHOW \(name)").scalar else {
            throw PostgresError(message: "SHOW \(name) returned nothing")
        }
        return value
    }

    private func simpleQuery(_ sql: String) throws(PostgresError) -> QueryResult {
        guard let handle, let result = PQexec(handle, sql) else {
            throw PostgresError(message: "replication connection is closed")
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK else {
            throw PostgresError(message: String(cString: PQresultErrorMessage(result)).trimmed)
        }
        return Self.rows(result)
    }

    /// What `BASE_BACKUP` sends, in order.
    public enum BackupMessage {
        /// Start of the backup: LSN and timeline.
        case started(lsn: String, timeline: Int)
        /// The tablespaces (OID and location; the data directory has neither) and their sizes in KiB.
        case tablespaces([(oid: String?, location: String?, sizeKiB: Int64?)])
        /// A new tar archive begins: `base.tar` or `<oid>.tar` with the tablespace location.
        case archive(name: String, location: String)
        /// Tar bytes of the current archive (valid only during the callback).
        case data(UnsafeRawBufferPointer)
        /// Cumulative uncompressed bytes sent so far.
        case progress(Int64)
        /// End of the backup: LSN and timeline.
        case finished(lsn: String, timeline: Int)
    }

    /// Runs `BASE_BACKUP` and hands every message to `handle` as it arrives (memory stays bounded).
    /// `shouldStop` is polled between messages; returning true abandons the backup.
    public func baseBackup(label: String, fastCheckpoint: Bool, includeWAL: Bool, waitForArchive: Bool,
                           shouldStop: () -> Bool = { false },
                           _ handle: (BackupMessage) throws -> Void) throws {
        guard let conn = self.handle else { throw PostgresError(message: "replication connection is closed") }
        let quotedLabel = label.replacingOccurrences(of: "'", with: "''")
        let command = "BASE_BACKUP (LABEL '\(quotedLabel)', CHECKPOINT '\(fastCheckpoint ? "fast" : "spread")', "
            + "PROGRESS true, WAL \(includeWAL), WAIT \(waitForArchive), TABLESPACE_MAP true, MANIFEST 'no')"
        guard PQsendQuery(conn, command) == 1 else {
            throw PostgresError(message: "cannot start BASE_BACKUP: \(String(cString: PQerrorMessage(conn)).trimmed)")
        }
        var resultIndex = 0
        while let result = PQgetResult(conn) {
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK:
                let rows = Self.rows(result)
                if rows.columns.contains("spcoid") {
                    try handle(.tablespaces(rows.rows.map { row in
                        (row[0], row[1], row.count > 2 ? row[2].flatMap { Int64($0) } : nil)
                    }))
                } else if let row = rows.rows.first, row.count >= 2, let lsn = row[0], let tli = row[1].flatMap({ Int($0) }) {
                    try handle(resultIndex == 0 ? .started(lsn: lsn, timeline: tli) : .finished(lsn: lsn, timeline: tli))
                }
                resultIndex += 1
            case PGRES_COPY_OUT:
                try readCopy(conn, shouldStop: shouldStop, handle)
                resultIndex += 1
            case PGRES_COMMAND_OK:
                continue
            default:
                let message = String(cString: PQresultErrorMessage(result)).trimmed
                throw PostgresError(message: "BASE_BACKUP failed: \(message)")
            }
        }
    }

    private func readCopy(_ conn: OpaquePointer, shouldStop: () -> Bool, _ handle: (BackupMessage) throws -> Void) throws {
        while true {
            if shouldStop() {
                close()
                throw PostgresError(message: "the base backup was stopped")
            }
            var buffer: UnsafeMutablePointer<CChar>?
            let length = PQgetCopyData(conn, &buffer, 0)
            if length == -1 { return }
            guard length > 0, let buffer else {
                throw PostgresError(message: "the base backup stream broke: \(String(cString: PQerrorMessage(conn)).trimmed)")
            }
            defer { PQfreemem(buffer) }
            let bytes = UnsafeRawBufferPointer(start: buffer, count: Int(length))
            let payload = UnsafeRawBufferPointer(rebasing: bytes[1...])
            switch bytes[0] {
            case UInt8(ascii: "n"):
                let parts = payload.split(separator: 0, omittingEmptySubsequences: false)
                let name = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
                let location = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : ""
                try handle(.archive(name: name, location: location))
            case UInt8(ascii: "d"):
                try handle(.data(payload))
            case UInt8(ascii: "p"):
                var value: Int64 = 0
                for byte in payload.prefix(8) { value = value << 8 | Int64(byte) }
                try handle(.progress(value))
            default:
                continue  // 'm' (manifest) is not requested.
            }
        }
    }

    static func rows(_ result: OpaquePointer) -> QueryResult {
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        let rows = (0..<Int(PQntuples(result))).map { row in
            (0..<columnCount).map { column -> String? in
                PQgetisnull(result, Int32(row), Int32(column)) == 1
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
        }
        return QueryResult(columns: columns, rows: rows)
    }
}

extension String {
    var trimmed: String {
        var text = Substring(self)
        while text.last == "\n" || text.last == " " { text = text.dropLast() }
        return String(text)
    }
}

/// Collects a connection's notices through libpq's notice receiver (context passed as `Unmanaged` userdata; the
/// connection owns the sink, so it outlives every callback).
final class NoticeSink {
    private(set) var messages: [String] = []

    func install(on connection: OpaquePointer) {
        PQsetNoticeReceiver(connection, { context, result in
            guard let context, let result else { return }
            let sink = Unmanaged<NoticeSink>.fromOpaque(context).takeUnretainedValue()
            sink.messages.append(String(cString: PQresultErrorMessage(result)).trimmed)
        }, Unmanaged.passUnretained(self).toOpaque())
    }
}
