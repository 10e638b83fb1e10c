import Foundation
import Postgres
import TestSupport
import Testing

@Suite("A throwaway PostgreSQL 15 cluster and the libpq wrapper")
struct PostgresClusterTests {
    @Test("starts, answers queries through libpq, and is removed afterwards")
    func queryThroughWrapper() async throws {
        var folder = ""
        try await PostgresCluster.with { cluster in
            folder = cluster.directory.path
            let connection = try cluster.connect()
            #expect(connection.serverVersion / 10000 == 15)
            let sum = try connection.query("SELECT 40 + 2 AS answer, NULL::text AS nothing")
            #expect(sum.columns == ["answer", "nothing"])
            #expect(sum.rows == [["42", nil]])
            try connection.query("CREATE TABLE t (id int PRIMARY KEY, name text)")
            try connection.query("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
            #expect(try connection.query("SELECT count(*) FROM t").scalar == "2")

            // Over TCP on loopback too, and wal_level allows base backups.
            let tcp = try PostgresConnection(conninfo: cluster.tcpConninfo())
            #expect(try tcp.query("SHOW wal_level").scalar == "replica")
            if geteuid() == 0 {
                #expect(try connection.query("SELECT current_setting('data_directory')").scalar == cluster.dataDirectory)
                let owner = try FileManager.default.attributesOfItem(atPath: cluster.dataDirectory)[.ownerAccountName]
                #expect(owner as? String == "postgres")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: folder))
    }

    @Test("errors carry the server's message and SQLSTATE")
    func errors() async throws {
        try await PostgresCluster.with { cluster in
            let connection = try cluster.connect()
            do {
                try connection.query("SELECT * FROM missing_table")
                Issue.record("the query should have failed")
            } catch let error as PostgresError {
                #expect(error.sqlState == "42P01")
                #expect(error.message.contains("relation \"missing_table\" does not exist"))
            }
            #expect(throws: PostgresError.self) {
                try PostgresConnection(conninfo: cluster.conninfo(database: "no_such_database"))
            }
        }
    }

    @Test("the cluster is stopped and removed even when the body fails")
    func cleanupOnFailure() async throws {
        struct Boom: Error {}
        var folder = ""
        var port = 0
        await #expect(throws: Boom.self) {
            try await PostgresCluster.with { cluster in
                folder = cluster.directory.path
                port = cluster.port
                throw Boom()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(throws: PostgresError.self) {
            try PostgresConnection(conninfo: "host=127.0.0.1 port=\(port) user=postgres dbname=postgres connect_timeout=2")
        }
    }
}
