import Foundation
import Repository
import TestSupport
import Testing

/// A recovery holds a lease on its cluster: expire removes nothing it may still read.
@Suite("recoveries hold a lease", .serialized)
struct RecoveryLeaseTests {
    @Test("expire refuses while a restored server may still fetch WAL, naming the restore; promotion ends the lease")
    func restoreLease() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            let first = try json(try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"]))
            try db.query("INSERT INTO t SELECT g FROM generate_series(1001, 2000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            try await waitForArchive(db)

            // Restored, not started yet: PostgreSQL will fetch the first backup's WAL.
            let (scratch, restored) = try setup.restore(["--backup", try #require(first["id"] as? String)])
            #expect(restored.status == 0, "\(restored.stderr)")
            #expect(restored.stdout.contains("recovery lease"), "\(restored.stdout)")
            let refused = try setup.lifeboat(["repo", "expire", "--keep-last", "1"])
            #expect(refused.status == 11, "\(refused.stderr)")
            #expect(refused.stderr.contains("a recovery is reading") && refused.stderr.contains(scratch.file("pgdata")),
                    "\(refused.stderr)")
            #expect(try jsonList(try setup.lifeboat(["backup", "list", "--json"])).count == 2)

            // Recovery ends (recovery_end_command): the lease with it.
            let server = try await startRecovered(scratch)
            server.stop()
            let opened = try BackupRepository.open(at: setup.repo, credential: .keyFile(setup.keyFile))
            #expect(try opened.recoveryLeases().isEmpty)
            let expired = try setup.lifeboat(["repo", "expire", "--keep-last", "1"])
            #expect(expired.status == 0, "\(expired.stderr)")

            // A drill's lease (taken here as a drill takes it) blocks expire too, until it ends; --end-lease ends one.
            #expect(try setup.lifeboat(["backup", "--conninfo", source.conninfo()]).status == 0)
            let lease = try opened.takeRecoveryLease(cluster: try systemIdentifier(source), purpose: "drill", detail: "run test")
            #expect(try setup.lifeboat(["repo", "expire", "--keep-last", "1"]).status == 11)
            let ended = try setup.lifeboat(["repo", "expire", "--keep-last", "1", "--end-lease", lease.id])
            #expect(ended.status == 0, "\(ended.stderr)")
            #expect(try opened.recoveryLeases().isEmpty)
            #expect(throws: RepositoryError.self) { try opened.endRecoveryLease("../config") }
        }
    }
}
