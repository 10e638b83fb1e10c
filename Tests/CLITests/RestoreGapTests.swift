import Foundation
import Repository
import TestSupport
import Testing

/// A restore that would stop early because a WAL segment is missing is refused before anything is written.
@Suite("restore refuses a known gap in the archive", .serialized)
struct RestoreGapTests {
    @Test("a segment missing after the backup: restore --target latest exits 3 naming it; --allow-gap restores and says where it stops")
    func gapBeforeLatest() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t (id int PRIMARY KEY, pad text)")
            try db.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
            let backup = try setup.lifeboat(["backup", "--conninfo", source.conninfo(), "--json"])
            #expect(backup.status == 0, "\(backup.stderr)")
            // Three more segments, each with rows of its own; the middle one goes missing.
            var switched: [String] = []
            for round in 1...3 {
                try db.query("INSERT INTO t SELECT g, 'round \(round)' FROM generate_series(\(round * 1000 + 1), \((round + 1) * 1000)) g")
                switched.append(try #require(try db.query("SELECT pg_walfile_name(pg_switch_wal())").scalar))
            }
            try await waitForArchive(db)
            let cluster = try systemIdentifier(source)
            let missing = switched[1]
            let path = setup.repo + "/wal/\(cluster)/\(missing.prefix(8))/\(missing)"
            #expect(FileManager.default.fileExists(atPath: path))
            try FileManager.default.removeItem(atPath: path)

            let verify = try setup.lifeboat(["verify"])
            #expect(verify.status == 3 && verify.stdout.contains(missing), "\(verify.stdout)")

            for target in [["--target", "latest"], ["--target-lsn", try #require(try db.query("SELECT pg_current_wal_lsn()::text").scalar)]] {
                let (scratch, refused) = try setup.restore(target)
                defer { scratch.remove() }
                #expect(refused.status == 3, "\(refused.stdout)\(refused.stderr)")
                #expect(refused.stderr.contains(missing) && refused.stderr.contains("--allow-gap"), "\(refused.stderr)")
                #expect(!FileManager.default.fileExists(atPath: scratch.file("pgdata/PG_VERSION")), "a refused restore wrote files")
            }
            // Immediate needs only the backup's own WAL: no gap in the way.
            let (immediateScratch, immediate) = try setup.restore(["--target", "immediate"])
            immediateScratch.remove()
            #expect(immediate.status == 0, "\(immediate.stderr)")

            let (scratch, allowed) = try setup.restore(["--allow-gap"])
            #expect(allowed.status == 0, "\(allowed.stderr)")
            #expect(allowed.stderr.contains("recovery will stop there") && allowed.stderr.contains(missing), "\(allowed.stderr)")
            let restored = try await startRecovered(scratch)
            defer { restored.stop() }
            // Recovery stopped at the gap: the rows of the first round are there, those after it are not.
            let count = try restored.connect().query("SELECT count(*) FROM t").scalar
            #expect(count == "2000", "rows after recovery: \(count ?? "?")")
        }
    }
}
