internal import CLibPQ
import LifeboatCore

/// An error reported by libpq or the server.
public struct PostgresError: LifeboatFailure, Sendable {
    public var code: ErrorCode { .runFailed }
    /// The server's SQLSTATE code, when the server reported one.
    public var sqlState: String?
    /// What libpq or the server said, without secrets: libpq never echoes a password back.
    public var reason: String

    public init(sqlState: String? = nil, message: String) {
        self.sqlState = sqlState
        self.reason = message
    }

    /// The reason, with the SQLSTATE when there is one.
    public var message: String { sqlState.map { "\(reason) (SQLSTATE \($0))" } ?? reason }
}

/// The rows of one query's result, as text (libpq's text format).
public struct QueryResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[String?]]

    /// The value in the first column of the first row, if any.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// One libpq connection.
///
/// A `PGconn` is not thread-safe; this class is deliberately not `Sendable`, so one task owns it at a time.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private let notices = NoticeSink()

    /// Server notices received so far (not printed).
    public var serverNotices: [String] { notices.messages }

    /// Connects with a libpq connection string (`host=... port=... user=... dbname=...`).
    public init(conninfo: String) throws {
        let conn = PQconnectdb(conninfo)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { Self.errorText($0) } ?? "out of memory"
            if let conn { PQfinish(conn) }
            throw PostgresError(message: "cannot connect: \(message)")
        }
        handle = conn
        notices.install(on: conn)
    }

    deinit { close() }

    /// The server's version number, e.g. `150018` for 15.18.
    public var serverVersion: Int {
        handle.map { Int(PQserverVersion($0)) } ?? 0
    }

    /// Runs one SQL command and returns its rows (empty for commands without rows).
    @discardableResult
    public func query(_ sql: String) throws -> QueryResult {
        guard let handle else { throw PostgresError(message: "connection is closed") }
        guard let result = PQexec(handle, sql) else {
            throw PostgresError(message: Self.errorText(handle))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            let columnCount = Int(PQnfields(result))
            let rowCount = Int(PQntuples(result))
            let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
            var rows: [[String?]] = []
            rows.reserveCapacity(rowCount)
            for row in 0..<rowCount {
                rows.append((0..<columnCount).map { column in
                    PQgetisnull(result, Int32(row), Int32(column)) == 1
                        ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
                })
            }
            return QueryResult(columns: columns, rows: rows)
        default:
            let state = PQresultErrorField(result, lb_pq_diag_sqlstate()).map { String(cString: $0) }
            let message = String(cString: PQresultErrorMessage(result))
                .trimmingCharacters(in: [" ", "\n"])
            throw PostgresError(sqlState: state, message: message)
        }
    }

    /// Closes the connection; further queries fail.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Something another thread can use to cancel the query this connection is running.
    public func canceller() -> QueryCanceller? {
        handle.flatMap { PQgetCancel($0) }.map(QueryCanceller.init)
    }

    private static func errorText(_ conn: OpaquePointer) -> String {
        String(cString: PQerrorMessage(conn)).trimmingCharacters(in: [" ", "\n"])
    }
}

/// Facts about the libpq this build runs with.
public enum PostgresLibrary {
    /// libpq's version, e.g. `15.18`.
    public static var version: String {
        let number = Int(PQlibVersion())
        return "\(number / 10000).\(number % 10000)"
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Set<Character>) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}

/// Cancels a connection's running query from any thread (`PQcancel` is documented thread-safe; the connection
/// itself is not).
public final class QueryCanceller: @unchecked Sendable {
    private let cancel: OpaquePointer

    init(_ cancel: OpaquePointer) { self.cancel = cancel }

    deinit { PQfreeCancel(cancel) }

    /// Asks the server to cancel the current query (if any); the query then fails with SQLSTATE 57014.
    public func cancelQuery() {
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &buffer, Int32(buffer.count))
    }
}
