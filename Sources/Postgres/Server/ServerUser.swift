import Foundation
import LifeboatCore
#if canImport(Glibc)
import Glibc
#endif

/// Running PostgreSQL's own programs: where they are, and as which user. PostgreSQL refuses to run as root, so
/// Lifeboat running as root starts them as the `postgres` user (`runuser`) and hands them their folders.
public enum ServerUser {
    /// The folder with `pg_ctl` and `initdb`: `explicit`, else `LIFEBOAT_PG_BIN`, else PostgreSQL 15's Debian location.
    public static func binDirectory(_ explicit: String? = nil) throws -> String {
        let candidates = [explicit, ProcessInfo.processInfo.environment[EnvironmentVariable.postgresBin.name], "/usr/lib/postgresql/15/bin"]
        for case let candidate? in candidates where FileManager.default.isExecutableFile(atPath: candidate + "/pg_ctl") {
            return candidate
        }
        throw PostgresError(message: "PostgreSQL 15 server programs (pg_ctl) not found"
            + (explicit.map { " in \($0)" } ?? "") + "; install postgresql-15 or set LIFEBOAT_PG_BIN")
    }

    /// The uid and gid of the `postgres` user when running as root (files must belong to it); nil otherwise.
    public static func owner() throws -> (uid: uid_t, gid: gid_t)? {
        guard geteuid() == 0 else { return nil }
        guard let user = getpwnam("postgres") else {
            throw PostgresError(message: "running as root, but there is no 'postgres' user to run the server as")
        }
        return (user.pointee.pw_uid, user.pointee.pw_gid)
    }

    /// Runs a PostgreSQL program to completion, as the `postgres` user when running as root.
    public static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        geteuid() == 0
            ? try ChildProcess.run("/usr/sbin/runuser", ["-u", "postgres", "--", program] + arguments)
            : try ChildProcess.run(program, arguments)
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresError(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw PostgresError(message: "bind: \(String(cString: strerror(errno)))") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw PostgresError(message: "getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
