import Foundation
import Plans
import Testing

@Suite("Plan validation reports every problem with file, line and column")
struct PlanValidationTests {
    @Test("a valid plan loads into typed values")
    func validPlan() throws {
        let (result, folder) = try load("""
            plan: nightly
            kind: backup
            description: Nightly backup
            schedule: { cron: "30 2 * * *", timezone: Europe/Berlin }
            targets: { rpo: 1h, rto: 4h }
            concurrency: 2
            steps:
              - id: dump
                uses: dump
                timeout: 1h30m
                retries: { count: 3, backoff: 10s, max_backoff: 1m }
                with: { database: orders, repository: primary, max_size: 16MiB, jobs: 4, verify: true }
              - id: tell
                uses: exec
                needs: dump
                on_failure: continue
                with:
                  command: [curl, -d, "done", "https://hooks.example/${env:HOOK_TOKEN}"]
                  env: { PGPASSWORD: "${file:/run/secrets/pg}" }
            on_failure:
              - id: page
                uses: exec
                with: { command: [false] }
            """, inventory: """
            databases:
              orders: { host: db.internal, port: 5432, dbname: orders, password: "${env:PGPASSWORD}" }
            repositories:
              primary: { location: /srv/lifeboat }
            """)
        let plan = try result.get()
        #expect(plan.name == "nightly")
        #expect(plan.kind == .backup)
        #expect(plan.schedule?.timeZone == "Europe/Berlin")
        #expect(plan.schedule?.cron.hours == [2])
        #expect(plan.targets?.rpo == PlanDuration(milliseconds: 3_600_000))
        #expect(plan.concurrency == 2)
        #expect(plan.steps.map(\.id) == ["dump", "tell"])
        let dump = plan.steps[0]
        #expect(dump.timeout == PlanDuration(milliseconds: 5_400_000))
        #expect(dump.retries.count == 3)
        #expect(dump.retries.backoff.milliseconds == 10_000)
        #expect(dump.parameters["database"] == .reference(.databases, "orders"))
        #expect(dump.parameters["max_size"] == .byteSize(ByteSize(bytes: 16 << 20)))
        #expect(dump.parameters["jobs"] == .integer(4))
        #expect(dump.parameters["verify"] == .boolean(true))
        let tell = plan.steps[1]
        #expect(tell.needs == ["dump"])
        #expect(tell.onFailure == .continue)
        #expect(tell.parameters["command"]?.secretReferences == [.environment("HOOK_TOKEN")])
        #expect(tell.parameters["env"]?.secretReferences == [.file("/run/secrets/pg")])
        #expect(plan.onFailure.map(\.id) == ["page"])
        #expect(plan.inventory.file == folder.inventoryFile)
        #expect(plan.inventory.entry(.databases, "orders")?.fields["password"]?.secretReferences == [.environment("PGPASSWORD")])
        // The secret file does not exist here, and a secret in an exec command would show in `ps`: warnings, not errors.
        #expect(result.warnings.count == 2)
        #expect(result.warnings.contains { $0.message.contains("/run/secrets/pg") })
        #expect(result.warnings.contains { $0.message.contains("HOOK_TOKEN") && $0.message.contains("visible in the process list") })
    }

    @Test("unknown keys are reported with a did-you-mean hint")
    func unknownKeys() throws {
        let (result, _) = try load("""
            plan: p
            kind: drill
            descripton: typo
            steps:
              - id: a
                uses: exec
                timeot: 5s
                with: { command: [true], evn: { A: b } }
            """)
        expectError(result, line: 3, column: 1, "unknown key 'descripton' in the plan", hint: "did you mean 'description'?")
        expectError(result, line: 7, column: 5, "unknown key 'timeot' in step 'a'", hint: "did you mean 'timeout'?")
        expectError(result, line: 8, column: 30, "unknown key 'evn'", hint: "did you mean 'env'?")
        #expect(result.plan == nil)
    }

    @Test("unknown step types suggest the closest known one")
    func unknownStepType() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            steps:
              - id: a
                uses: exce
                with: { command: [true] }
            """)
        expectError(result, line: 5, column: 11, "unknown step type 'exce'", hint: "did you mean 'exec'?")
    }

    @Test("missing required keys and parameters are named")
    func missingRequired() throws {
        let (result, _) = try load("""
            plan: p
            steps:
              - id: a
                uses: exec
              - id: b
                uses: approval
                with: {}
              - uses: exec
                with: { command: [true] }
            """)
        expectError(result, line: 1, column: 1, "the plan is missing the required key 'kind'")
        expectError(result, line: 3, column: 5, "step 'a' (exec) is missing the required parameter 'command'")
        expectError(result, line: 7, column: 11, "is missing the required parameter 'prompt'")
        expectError(result, line: 8, column: 5, "a step in 'steps' is missing the required key 'id'")
    }

    @Test("values of the wrong type say what was expected")
    func wrongTypes() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            concurrency: many
            steps:
              - id: a
                uses: exec
                retries: lots
                with: { command: echo hello }
              - id: b
                uses: dump
                with: { database: orders, jobs: 99, verify: "yes please", max_size: 12 parsecs }
            """, inventory: "databases: { orders: { dbname: orders } }")
        expectError(result, line: 3, column: 14, "'concurrency' must be a whole number from 1 to 64, found the string 'many'")
        expectError(result, line: 7, column: 14, "'retries' must be a number or {count, backoff, max_backoff}")
        expectError(result, line: 8, column: 22, "'command' must be a list of strings, found the string 'echo hello'")
        expectError(result, line: 11, column: 37, "'jobs' must be from 1 to 16, found 99")
        expectError(result, line: 11, column: 49, "'verify' must be true or false")
        expectError(result, line: 11, column: 73, "bad size '12 parsecs'")
    }

    @Test("duplicate step ids point at the second one and name the first")
    func duplicateIds() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            steps:
              - { id: a, uses: exec, with: { command: [true] } }
              - { id: a, uses: exec, with: { command: [true] } }
            on_failure:
              - { id: a, uses: exec, with: { command: [true] } }
            """)
        let duplicates = result.errors.filter { $0.message == "duplicate step id 'a'" }
        #expect(duplicates.map(\.location.line) == [5, 7])
        #expect(duplicates.allSatisfy { $0.location.column == 11 && $0.hint?.contains("plan.yaml:4:11") == true })
    }

    @Test("cycles in needs are named step by step")
    func cycles() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            steps:
              - { id: a, uses: exec, needs: c, with: { command: [true] } }
              - { id: b, uses: exec, needs: a, with: { command: [true] } }
              - { id: c, uses: exec, needs: [b], with: { command: [true] } }
              - { id: d, uses: exec, needs: [d], with: { command: [true] } }
              - { id: e, uses: exec, needs: [bb], with: { command: [true] } }
            """)
        let cycle = expectError(result, line: 4, column: 5, "need each other in a cycle")
        #expect(cycle?.message.contains("a → c → b → a") == true, "\(String(describing: cycle))")
        expectError(result, line: 7, column: 5, "step 'd' needs itself")
        expectError(result, line: 8, column: 5, "step 'e' needs 'bb', which is not a step in 'steps'", hint: "did you mean 'b'?")
    }

    @Test("references to undefined inventory names are errors with suggestions")
    func undefinedReferences() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            steps:
              - { id: a, uses: dump, with: { database: ordrs, repository: offsite } }
            """, inventory: """
            databases: { orders: { dbname: orders } }
            repositories: { primary: { location: /srv/repo } }
            """)
        expectError(result, line: 4, column: 44, "undefined database 'ordrs'", hint: "did you mean 'orders'?")
        expectError(result, line: 4, column: 63, "undefined repository 'offsite'", hint: "primary")

        let (noInventory, _) = try load("""
            plan: p
            kind: backup
            steps:
              - { id: a, uses: dump, with: { database: orders } }
            """)
        expectError(noInventory, line: 4, column: 44, "undefined database 'orders'", hint: "this plan has no inventory")
    }

    @Test("an explicit inventory key is used, relative to the plan")
    func explicitInventory() throws {
        let folder = try PlanFolder(plan: """
            plan: p
            kind: backup
            inventory: shared/inventory.yaml
            steps:
              - { id: a, uses: dump, with: { database: orders } }
            """)
        try FileManager.default.createDirectory(atPath: folder.directory + "/shared", withIntermediateDirectories: true)
        try "databases: { orders: { dbname: orders } }".write(toFile: folder.directory + "/shared/inventory.yaml",
                                                            atomically: true, encoding: .utf8)
        let plan = try folder.load().get()
        #expect(plan.inventory.file == folder.directory + "/shared/inventory.yaml")

        let missing = try PlanFolder(plan: """
            plan: p
            kind: backup
            inventory: nowhere.yaml
            steps: [ { id: a, uses: exec, with: { command: [true] } } ]
            """)
        expectError(missing.load(), line: 3, column: 12, "inventory file")
    }

    @Test("problems inside the inventory are reported in the inventory file")
    func inventoryProblems() throws {
        let (result, folder) = try load("""
            plan: p
            kind: backup
            steps: [ { id: a, uses: exec, with: { command: [true] } } ]
            """, inventory: """
            databases:
              orders: { dbname: orders, prot: 5432 }
              billing: { host: db, port: 99999 }
            channels:
              oncall: { type: slak }
            """)
        let unknown = expectError(result, line: 2, column: 29, "unknown key 'prot' in database 'orders'", hint: "did you mean 'port'?")
        #expect(unknown?.location.file == folder.inventoryFile)
        expectError(result, line: 3, column: 12, "database 'billing' is missing the required parameter 'dbname'")
        expectError(result, line: 3, column: 30, "'port' must be from 1 to 65535, found 99999")
        expectError(result, line: 5, column: 19, "'type' must be one of webhook, slack, email, pagerduty", hint: "did you mean 'slack'?")
    }

    @Test("bad durations, cron expressions and time zones")
    func badValues() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            schedule: { cron: "61 * * * *", timezone: Europe/Berln }
            targets: { rpo: 1 hour, rto: 30m1h }
            steps:
              - { id: a, uses: exec, timeout: 5 minutes, with: { command: [true] } }
            """)
        expectError(result, line: 3, column: 19, "cron minute field '61': 61 is out of range 0-59")
        expectError(result, line: 3, column: 43, "unknown time zone 'Europe/Berln'", hint: "did you mean 'Europe/Berlin'?")
        expectError(result, line: 4, column: 17, "bad duration '1 hour' for 'rpo'", hint: "90s, 15m, 1h30m")
        expectError(result, line: 4, column: 30, "bad duration '30m1h' for 'rto'")
        expectError(result, line: 6, column: 35, "bad duration '5 minutes' for 'timeout'")
    }

    @Test("a wrong kind gets a suggestion")
    func badKind() throws {
        let (result, _) = try load("""
            plan: p
            kind: dril
            steps: [ { id: a, uses: exec, with: { command: [true] } } ]
            """)
        expectError(result, line: 2, column: 7, "'kind' must be one of backup, drill, failover, found 'dril'", hint: "did you mean 'drill'?")
    }

    @Test("bad secret references are errors; a missing secret file is a warning")
    func secretReferences() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            steps:
              - id: a
                uses: exec
                with:
                  command: [echo, "${vault:db/password}", "${env:1BAD}", "${env:OK", "cost: $5 and $${literal}"]
            """)
        expectError(result, line: 7, column: 23, "unknown reference '${vault:db/password}'", hint: "${env:NAME} or ${file:PATH}")
        expectError(result, line: 7, column: 47, "'1BAD' is not a valid environment variable name")
        expectError(result, line: 7, column: 62, "unterminated reference")
        #expect(result.errors.count == 3)
    }

    @Test("unreadable files and YAML syntax errors are reported with their position")
    func unreadableAndSyntax() throws {
        let missing = PlanLoader(stepSchemas: testSchemas).load("/nonexistent/plan.yaml")
        #expect(missing.errors.count == 1)
        #expect(missing.errors.first?.description == "/nonexistent/plan.yaml: error: cannot read plan: no such file")

        let (syntax, _) = try load("""
            plan: p
            kind: backup
            steps:
              - id: a
                 uses: exec
            """)
        #expect(syntax.errors.count == 1)
        let error = try #require(syntax.errors.first)
        #expect(error.message.hasPrefix("YAML syntax error"))
        #expect(error.location.line == 5)

        let (empty, _) = try load("")
        #expect(empty.errors.first?.message == "the plan file is empty")

        let (notMapping, _) = try load("- just\n- a list\n")
        expectError(notMapping, line: 1, column: 1, "the plan must be a mapping of keys to values, found a list")
    }

    @Test("every problem is reported at once, in file order")
    func everyProblemAtOnce() throws {
        let (result, _) = try load("""
            plan: p
            kind: backup
            bogus: 1
            steps:
              - { id: a, uses: nope }
              - { id: b, uses: exec, timeout: soon, with: { command: [true] } }
              - { id: c, uses: exec, needs: [zz], with: { command: [true] } }
            """)
        #expect(result.errors.count == 4, "\(result.diagnostics)")
        let rendered = result.errors.map(\.description).joined(separator: "\n")
        #expect(rendered.contains("plan.yaml:3:1: error: unknown key 'bogus' in the plan"))
        #expect(rendered.contains("plan.yaml:5:20: error: unknown step type 'nope'"))
    }
}
