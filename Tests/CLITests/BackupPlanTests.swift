import Foundation
import TestSupport
import Testing

@Suite("Backup plans: postgres.backup and repository.expire steps", .serialized)
struct BackupPlanTests {
    @Test("a nightly plan backs up an inventory database and applies retention; secrets stay out of the catalog")
    func nightlyPlan() async throws {
        let setup = try ArchivingSetup()
        try await PostgresCluster.with(settings: setup.serverSettings) { source in
            let db = try source.connect()
            try db.query("CREATE TABLE t AS SELECT g FROM generate_series(1, 5000) g")
            let inventory = try setup.bench.plan("plans/lifeboat.yaml", """
                databases:
                  orders: { host: \(source.socketDirectory), port: \(source.port), user: postgres, dbname: postgres }
                repositories:
                  primary: { location: \(setup.repo), passphrase: "${env:TEST_REPO_PASSPHRASE}" }
                """)
            let plan = try setup.bench.plan("plans/nightly.yaml", """
                plan: nightly
                kind: backup
                steps:
                  - id: base
                    uses: postgres.backup
                    with: { database: orders, repository: primary, checkpoint: fast }
                  - id: expire
                    uses: repository.expire
                    needs: base
                    with: { repository: primary, keep: { last: 1 } }
                """)
            var cli = setup.bench.cli
            cli.environment["TEST_REPO_PASSPHRASE"] = "pitr passphrase"
            #expect(try cli.run(["plan", "check", plan]).status == 0)
            for _ in 0..<2 {
                let run = try cli.run(["run", plan, "--trigger", "cron"])
                #expect(run.status == 0, "\(run.stderr)")
                #expect(run.stdout.isEmpty && run.stderr.isEmpty, "\(run.stderr)")
            }
            let backups = try JSONSerialization.jsonObject(
                with: Data(try setup.lifeboat(["backup", "list", "--json"]).stdout.utf8)) as? [[String: Any]]
            #expect(backups?.count == 1)
            let runs = try setup.bench.runs()
            let show = try cli.run(["runs", "show", try #require(runs.first?["id"] as? String)])
            #expect(show.stdout.contains("removed 1 ("))
            #expect(show.stdout.contains("backup 2"))
            let catalog = try Data(contentsOf: URL(fileURLWithPath: setup.bench.folder.file("state/catalog.sqlite")))
            #expect(catalog.range(of: Data("pitr passphrase".utf8)) == nil)

            // One-off commands take inventory names too, with the inventory's credentials.
            let byName = try cli.run(["backup", "--inventory", inventory, "--repo", "primary", "--database", "orders", "--json"])
            #expect(byName.status == 0, "\(byName.stderr)")
            #expect(try json(byName)["source"] as? String == "orders")
            let listed = try cli.run(["backup", "list", "--inventory", inventory, "--repo", "primary", "--json"])
            #expect((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?.count == 2)
            let unknown = try cli.run(["backup", "--inventory", inventory, "--repo", "primary", "--database", "ordrs"])
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("no database 'ordrs'"))

            // A wrong passphrase fails the step with the repository's message.
            cli.environment["TEST_REPO_PASSPHRASE"] = "not it"
            let wrong = try cli.run(["run", plan])
            #expect(wrong.status == 1)
            #expect(wrong.stderr.contains("step 'base' failed: wrong passphrase"))
        }
    }

    @Test("plan check catches a bad keep block and unknown inventory names")
    func validation() throws {
        let bench = try CLIBench()
        try bench.plan("p/lifeboat.yaml", "repositories: { primary: { location: /tmp/nowhere, passphrase: x } }\n")
        let plan = try bench.plan("p/plan.yaml", """
            plan: bad
            kind: backup
            steps:
              - { id: base, uses: postgres.backup, with: { database: orders, repository: primary } }
              - { id: expire, uses: repository.expire, with: { repository: primary, keep: { lasst: 3 } } }
            """)
        let result = try bench.run(["plan", "check", plan])
        #expect(result.status == 2)
        #expect(result.stderr.contains("plan.yaml:4:58: error: undefined database 'orders'"))
        #expect(result.stderr.contains("plan.yaml:5:81: error: unknown key 'lasst' in 'keep'"))
    }
}
