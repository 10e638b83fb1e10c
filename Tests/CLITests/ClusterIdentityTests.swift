import Foundation
import Postgres
import TestSupport
import Testing

func jsonList(_ result: ProcessResult) throws -> [[String: Any]] {
    try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] ?? []
}

/// Waits until the server's archiver has archived at least one more file than `before` and failed none.
func archiverCounts(_ connection: PostgresConnection) throws -> (archived: Int, failed: Int) {
    let row = try connection.query("SELECT archived_count, failed_count FROM pg_stat_archiver").rows.first
    return (Int((row?[0] ?? nil) ?? "0") ?? 0, Int((row?[1] ?? nil) ?? "0") ?? 0)
}

@Suite("One repository, many clusters: backups and WAL belong to a cluster by its system identifier", .serialized)
struct ClusterIdentityTests {
    @Test("two clusters archive into one repository under the same WAL names; expire keeps each one's; each restores its own")
    func twoClusters() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { a in
            try await PostgresCluster.with(settings: setup.serverSettings) { b in
                let sysA = try systemIdentifier(a), sysB = try systemIdentifier(b)
                #expect(sysA != sysB)
                let dbA = try a.connect(), dbB = try b.connect()
                try dbA.query("CREATE TABLE t AS SELECT g AS id, 'cluster a' AS who FROM generate_series(1, 3000) g")
                try dbB.query("CREATE TABLE t AS SELECT g AS id, 'cluster b' AS who FROM generate_series(1, 5000) g")
                var ids: [String: [String]] = [:]
                for round in 0..<2 {
                    for (name, server, db) in [("orders", a, dbA), ("billing", b, dbB)] {
                        try db.query("INSERT INTO t SELECT g, 'round \(round)' FROM generate_series(100000, 100099) g")
                        try await waitForArchive(db)
                        let backup = try setup.lifeboat(["backup", "--conninfo", server.conninfo(), "--source", name, "--json"])
                        #expect(backup.status == 0, "\(backup.stderr)")
                        ids[name, default: []].append(try #require(try json(backup)["id"] as? String))
                        try db.query("DELETE FROM t WHERE id >= 100000")
                    }
                }
                try await waitForArchive(dbA)
                try await waitForArchive(dbB)
                // Both archived everything, though their segment names are the same.
                #expect(try archiverCounts(dbA).failed == 0)
                #expect(try archiverCounts(dbB).failed == 0)
                let namesA = try FileManager.default.contentsOfDirectory(atPath: setup.repo + "/wal/\(sysA)/00000001")
                let namesB = try FileManager.default.contentsOfDirectory(atPath: setup.repo + "/wal/\(sysB)/00000001")
                #expect(!Set(namesA.filter { $0.count == 24 }).intersection(namesB.filter { $0.count == 24 }).isEmpty)

                // backup list groups by cluster and filters by name or system identifier.
                let listed = try jsonList(try setup.lifeboat(["backup", "list", "--json"]))
                #expect(listed.count == 4)
                #expect(Set(listed.compactMap { $0["cluster"] as? String }) == ["orders", "billing"])
                #expect(listed.map { $0["cluster"] as? String } == ["billing", "billing", "orders", "orders"])
                let onlyA = try jsonList(try setup.lifeboat(["backup", "list", "--cluster", "orders", "--json"]))
                #expect(onlyA.map { $0["id"] as? String } == ids["orders"]!.map { Optional($0) })
                let bySystem = try jsonList(try setup.lifeboat(["backup", "list", "--cluster", sysB, "--json"]))
                #expect(bySystem.map { $0["id"] as? String } == ids["billing"]!.map { Optional($0) })
                let table = try setup.lifeboat(["backup", "list"])
                #expect(table.stdout.contains("CLUSTER"))
                #expect(table.stdout.contains("cluster orders: system identifier \(sysA)"))

                // keep-last 1 keeps the newest backup of each cluster.
                let dry = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "1", "--dry-run", "--json"]))
                #expect(Set(dry["kept"] as? [String] ?? []) == [ids["orders"]![1], ids["billing"]![1]])
                #expect(Set(dry["removed"] as? [String] ?? []) == [ids["orders"]![0], ids["billing"]![0]])
                let expired = try setup.lifeboat(["repo", "expire", "--keep-last", "1"])
                #expect(expired.status == 0, "\(expired.stderr)")
                #expect(expired.stdout.contains("orders (\(sysA)): kept 1 backups, removed 1"))
                #expect(expired.stdout.contains("billing (\(sysB)): kept 1 backups, removed 1"))
                let remaining = try jsonList(try setup.lifeboat(["backup", "list", "--json"]))
                #expect(Set(remaining.compactMap { $0["id"] as? String }) == [ids["orders"]![1], ids["billing"]![1]])

                let verify = try setup.lifeboat(["verify", "--read-data"])
                #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

                // Restores: one cluster each, never the other's WAL; without --cluster, the choice is refused.
                let ambiguous = try setup.lifeboat(["restore", "--to", setup.bench.folder.file("nowhere")])
                #expect(ambiguous.status == 2, "\(ambiguous.stderr)")
                #expect(ambiguous.stderr.contains("2 clusters") && ambiguous.stderr.contains(sysA) && ambiguous.stderr.contains(sysB))
                #expect(!FileManager.default.fileExists(atPath: setup.bench.folder.file("nowhere")))
                for (name, expected, who) in [("orders", "3000", "cluster a"), (sysB, "5000", "cluster b")] {
                    let restored = try await setup.restoreAndStart(["--cluster", name])
                    defer { restored.stop() }
                    let db = try restored.connect()
                    #expect(try db.query("SELECT count(*) FROM t").scalar == expected)
                    #expect(try db.query("SELECT DISTINCT who FROM t").scalar == who)
                }

                // A segment of B pushed as A's is refused: by --cluster, and from A's data directory.
                let segment = try #require(namesB.filter { $0.count == 24 }.sorted().last)
                try FileManager.default.createDirectory(atPath: setup.bench.folder.file("from-b"), withIntermediateDirectories: true)
                let fetched = setup.bench.folder.file("from-b/" + segment)
                #expect(try setup.lifeboat(["wal", "fetch", segment, fetched, "--cluster", sysB]).status == 0)
                let impostor = setup.bench.folder.file("impostor")
                try FileManager.default.createDirectory(atPath: impostor + "/pg_wal", withIntermediateDirectories: true)
                try FileManager.default.createDirectory(atPath: impostor + "/global", withIntermediateDirectories: true)
                try FileManager.default.copyItem(atPath: a.dataDirectory + "/global/pg_control", toPath: impostor + "/global/pg_control")
                try FileManager.default.copyItem(atPath: fetched, toPath: impostor + "/pg_wal/" + segment)
                let before = snapshot(setup.repo, under: "wal/\(sysA)")
                for arguments in [["wal", "push", fetched, "--cluster", sysA], ["wal", "push", impostor + "/pg_wal/" + segment]] {
                    let refused = try setup.lifeboat(arguments)
                    #expect(refused.status == 1, "\(arguments): \(refused.stderr)")
                    #expect(refused.stderr.contains("belongs to cluster \(sysB)") && refused.stderr.contains("not to cluster \(sysA)"),
                            "\(refused.stderr)")
                }
                // A's own segment of that name is still A's (the check came before any comparison or write).
                #expect(snapshot(setup.repo, under: "wal/\(sysA)") == before)
                // Pushed for B, it is B's and already there.
                #expect(try setup.lifeboat(["wal", "push", fetched, "--cluster", sysB]).status == 0)

                // status finds each database's backups by the running server's system identifier.
                let inventory = try setup.bench.folder.write("inventory.yaml", """
                    databases:
                      shop: { host: \(a.socketDirectory), port: \(a.port), user: postgres, dbname: postgres }
                      ledger: { host: \(b.socketDirectory), port: \(b.port), user: postgres, dbname: postgres }
                    repositories:
                      primary: { location: \(setup.repo), key_file: \(setup.keyFile) }
                    """)
                let status = try setup.bench.run(["status", "--inventory", inventory, "--json"])
                let rows = try #require(try json(status)["databases"] as? [[String: Any]])
                let shop = try #require(rows.first { $0["database"] as? String == "shop" })
                let ledger = try #require(rows.first { $0["database"] as? String == "ledger" })
                #expect(shop["newest_backup"] as? String == ids["orders"]![1])
                #expect(shop["cluster"] as? String == sysA && shop["cluster_found_by"] as? String == "system_identifier")
                #expect(ledger["newest_backup"] as? String == ids["billing"]![1])
                #expect(ledger["cluster"] as? String == sysB)

                // A drill restores the database's own cluster, recognised by its running server.
                try setup.bench.plan("drill.yaml", """
                    plan: ledger-drill
                    kind: drill
                    inventory: inventory.yaml
                    targets: { rpo: 1h, rto: 4h }
                    steps:
                      - { id: restore, uses: postgres.restore, with: { database: ledger, repository: primary, target: latest } }
                      - id: check
                        uses: postgres.check
                        needs: restore
                        with: { checks: [ { name: ledger rows, sql: "SELECT count(*) FROM t WHERE who = 'cluster b'", equals: "5000" } ] }
                    """)
                let drill = try setup.bench.run(["run", setup.bench.folder.file("drill.yaml")])
                #expect(drill.status == 0, "\(drill.stdout)\(drill.stderr)")
            }
        }
    }

    @Test("a restored copy archives nothing by default; one that does (preserve) cannot redirect latest restores of production")
    func restoresDoNotArchive() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { production in
            let cluster = try systemIdentifier(production)
            let db = try production.connect()
            try db.query("CREATE TABLE orders (id int PRIMARY KEY, phase text)")
            try db.query("INSERT INTO orders SELECT g, 'before the backup' FROM generate_series(1, 1000) g")
            #expect(try setup.lifeboat(["backup", "--conninfo", production.conninfo()]).status == 0)
            try db.query("INSERT INTO orders SELECT g, 'before the target' FROM generate_series(1001, 1100) g")
            try await Task.sleep(for: .milliseconds(1100))
            let target = try #require(try db.query(
                "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'").scalar)
            try await Task.sleep(for: .milliseconds(1100))
            try db.query("INSERT INTO orders SELECT g, 'after the target' FROM generate_series(1101, 1200) g")
            try await waitForArchive(db)
            let wal = setup.repo + "/wal/\(cluster)"

            // A point-in-time restore, started and promoted with the settings lifeboat wrote: it archives nothing.
            let (scratch, restored) = try setup.restore(["--target-time", target])
            #expect(restored.status == 0, "\(restored.stderr)")
            let lastLine = restored.stdout.split(separator: "\n").last.map(String.init) ?? ""
            #expect(lastLine.contains("archive_mode is off"), "\(restored.stdout)")
            #expect(restored.stdout.contains("recovery follows timeline 1"))
            let autoConf = try String(contentsOfFile: scratch.file("pgdata/postgresql.auto.conf"), encoding: .utf8)
            #expect(autoConf.contains("archive_mode = 'off'"))
            #expect(autoConf.contains("wal fetch %f %p") && autoConf.contains("--cluster \(cluster)"))
            let test = try await startRecovered(scratch, options: "")  // as restored: its own archive_mode
            do {
                let copy = try test.connect()
                #expect(try copy.query("SELECT count(*) FROM orders").scalar == "1100")
                #expect(try copy.query("SHOW archive_mode").scalar == "off")
                try copy.query("INSERT INTO orders VALUES (5000, 'written on the test copy')")
                _ = try copy.query("SELECT pg_switch_wal()")
                try await Task.sleep(for: .milliseconds(500))
                #expect(try archiverCounts(copy).archived == 0)
            }
            test.stop()
            #expect(!FileManager.default.fileExists(atPath: wal + "/00000002"))

            try db.query("INSERT INTO orders SELECT g, 'production goes on' FROM generate_series(1201, 1300) g")
            try await waitForArchive(db)
            do {
                let latest = try await setup.restoreAndStart([])
                defer { latest.stop() }
                #expect(try latest.connect().query("SELECT count(*) FROM orders").scalar == "1300")
            }

            // The same restore with --archive-mode preserve: promoted, it archives timeline 2 into the repository.
            let (preserved, kept) = try setup.restore(["--target-time", target, "--archive-mode", "preserve"])
            #expect(kept.status == 0, "\(kept.stderr)")
            #expect(kept.stdout.split(separator: "\n").last?.contains("--archive-mode preserve") == true)
            let branch = try await startRecovered(preserved, options: "")
            do {
                let copy = try branch.connect()
                try copy.query("INSERT INTO orders VALUES (6000, 'written on the branch')")
                try await waitForArchive(copy)
                // The branch is backed up into the same repository too (same system identifier, timeline 2).
                let backup = try setup.lifeboat(["backup", "--conninfo", branch.conninfo(), "--source", "staging"])
                #expect(backup.status == 0, "\(backup.stderr)")
            }
            branch.stop()
            #expect(FileManager.default.fileExists(atPath: wal + "/00000002/00000002.history"))
            // Right now the branch archived last; still, retention keeps production's backup (and its WAL), since
            // which line is production cannot be told from the archive.
            let early = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "1", "--dry-run", "--json"]))
            #expect((early["kept"] as? [String])?.count == 2 && (early["removed"] as? [String]) == [], "\(early)")
            // Only WAL from before production's backup would go.
            let productionFirst = try #require(try jsonList(try setup.lifeboat(["backup", "list", "--json"]))
                .first { $0["timeline"] as? Int == 1 }?["wal_first"] as? String)
            let older = try FileManager.default.contentsOfDirectory(atPath: wal + "/00000001")
                .filter { String($0.prefix(24)) < productionFirst }
            #expect(early["wal_removed"] as? Int == older.count, "\(early)")

            // Production goes on on timeline 1: a latest restore follows it, not the branch, and says so.
            try db.query("INSERT INTO orders SELECT g, 'after the branch' FROM generate_series(1301, 1400) g")
            try await waitForArchive(db)
            let (scratch2, again) = try setup.restore([])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("recovery follows timeline 1"), "\(again.stdout)")
            #expect(again.stderr.contains("2 timelines that branch apart"), "\(again.stderr)")
            let conf = try String(contentsOfFile: scratch2.file("pgdata/postgresql.auto.conf"), encoding: .utf8)
            #expect(conf.contains("recovery_target_timeline = '1'"))
            do {
                let production2 = try await startRecovered(scratch2)
                defer { production2.stop() }
                let copy = try production2.connect()
                #expect(try copy.query("SELECT count(*) FROM orders").scalar == "1400")
                #expect(try copy.query("SELECT count(*) FROM orders WHERE id = 6000").scalar == "0")
            }
            // The branch stays reachable on purpose.
            do {
                let onBranch = try await setup.restoreAndStart(["--target-timeline", "2"])
                defer { onBranch.stop() }
                #expect(try onBranch.connect().query("SELECT phase FROM orders WHERE id = 6000").scalar == "written on the branch")
            }
            let verify = try setup.lifeboat(["verify", "--read-data"])
            #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")

            // Retention keeps each line of history: the branch's newer backup does not push production's out, and
            // production's WAL stays.
            let listed = try jsonList(try setup.lifeboat(["backup", "list", "--json"]))
            #expect(listed.map { $0["timeline"] as? Int } == [1, 2])
            let expired = try json(try setup.lifeboat(["repo", "expire", "--keep-last", "1", "--json"]))
            #expect(Set(expired["kept"] as? [String] ?? []) == Set(listed.compactMap { $0["id"] as? String }), "\(expired)")
            #expect(try setup.lifeboat(["verify", "--read-data"]).status == 0)
            let afterExpiry = try await setup.restoreAndStart([])
            defer { afterExpiry.stop() }
            #expect(try afterExpiry.connect().query("SELECT count(*) FROM orders").scalar == "1400")
        }
    }

    @Test("two backups started at once both commit, with ids of their own")
    func sameSecond() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            try source.connect().query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            let arguments = ["backup", "--conninfo", source.conninfo(), "--json", "--repo", setup.repo, "--key-file", setup.keyFile]
            let first = try setup.bench.cli.start(arguments)
            let second = try setup.bench.cli.start(arguments)
            let results = [first.wait(), second.wait()]
            for result in results { #expect(result.status == 0, "\(result.stderr)") }
            let ids = try results.map { try #require(try JSONSerialization.jsonObject(with: Data($0.stdout.utf8)) as? [String: Any])["id"] as? String }
            #expect(Set(ids).count == 2)
            #expect(try jsonList(try setup.lifeboat(["backup", "list", "--json"])).count == 2)
            #expect(try setup.lifeboat(["verify"]).status == 0)
        }
    }

    @Test("after a failover the promoted standby's status shows its cluster's backups, taken under the old primary's name")
    func statusAfterFailover() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { primary in
            let db = try primary.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
            let standby = try PostgresCluster.standby(of: primary)
            defer { standby.stop() }
            var ids: [String] = []
            for _ in 0..<2 {
                let backup = try setup.lifeboat(["backup", "--conninfo", primary.conninfo(), "--source", "orders", "--json"])
                #expect(backup.status == 0, "\(backup.stderr)")
                ids.append(try #require(try json(backup)["id"] as? String))
            }
            try await waitForArchive(db)
            primary.stop()
            let promoted = try standby.connect()
            #expect(try promoted.query("SELECT pg_promote(true, 60)").scalar == "t")
            try promoted.query("INSERT INTO t VALUES (0)")
            try await waitForArchive(promoted)

            // A user that may read neither pg_control_system() nor connect for replication.
            try promoted.query("CREATE ROLE plain LOGIN")
            try promoted.query("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC")
            let inventory = try setup.bench.folder.write("inventory.yaml", """
                databases:
                  orders-plain: { host: \(standby.socketDirectory), port: \(standby.port), user: plain, dbname: postgres }
                  orders-standby: { host: \(standby.socketDirectory), port: \(standby.port), user: postgres, dbname: postgres }
                  orders: { host: \(primary.socketDirectory), port: \(primary.port), user: postgres, dbname: postgres }
                repositories:
                  primary: { location: \(setup.repo), key_file: \(setup.keyFile) }
                """)
            let status = try setup.bench.run(["status", "--inventory", inventory, "--json"])
            let rows = try #require(try json(status)["databases"] as? [[String: Any]], "\(status.stdout)\(status.stderr)")
            let promotedRow = try #require(rows.first { $0["database"] as? String == "orders-standby" })
            #expect(promotedRow["newest_backup"] as? String == ids[1], "\(status.stdout)")
            #expect(promotedRow["cluster_found_by"] as? String == "system_identifier")
            #expect(promotedRow["within_targets"] as? Bool == true, "\(promotedRow)")
            #expect((promotedRow["newest_wal"] as? String)?.hasPrefix("00000002") == true, "\(promotedRow)")
            // The old primary is down: its backups are still found, by the name they were taken under.
            let oldRow = try #require(rows.first { $0["database"] as? String == "orders" })
            #expect(oldRow["newest_backup"] as? String == ids[1])
            #expect(oldRow["cluster_found_by"] as? String == "name")
            // A server that answers but does not tell its identifier is not matched by a guess.
            let plainRow = try #require(rows.first { $0["database"] as? String == "orders-plain" })
            #expect(plainRow["newest_backup"] == nil, "\(plainRow)")
            #expect((plainRow["problems"] as? [String])?.contains { $0.contains("system identifier cannot be read") } == true,
                    "\(plainRow)")
            let table = try setup.bench.run(["status", "--inventory", inventory])
            #expect(table.stdout.split(separator: "\n").filter { $0.hasPrefix("orders ") || $0.hasPrefix("orders-standby") }
                .allSatisfy { !$0.contains("none") }, "\(table.stdout)")

            // A backup of the promoted server continues the same cluster, under its new name.
            let after = try setup.lifeboat(["backup", "--conninfo", standby.conninfo(), "--source", "orders-standby", "--json"])
            #expect(after.status == 0, "\(after.stderr)")
            #expect(try json(after)["timeline"] as? Int == 2)
            let listed = try jsonList(try setup.lifeboat(["backup", "list", "--json"]))
            #expect(listed.count == 3)
            #expect(Set(listed.compactMap { $0["cluster"] as? String }) == ["orders-standby"])
            #expect(try setup.lifeboat(["backup", "list", "--cluster", "orders", "--json"]).status == 0)
        }
    }
}
