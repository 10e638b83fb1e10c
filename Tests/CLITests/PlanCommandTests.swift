import Foundation
import TestSupport
import Testing

@Suite("lifeboat plan check / show")
struct PlanCommandTests {
    @Test("check exits 0 for valid plans and 2 with FILE:LINE:COLUMN for invalid ones")
    func check() throws {
        let bench = try CLIBench()
        let good = try bench.plan("good.yaml", """
            plan: good
            kind: backup
            steps: [ { id: a, uses: exec, with: { command: ["true"] } } ]
            """)
        let bad = try bench.plan("bad.yaml", """
            plan: bad
            kind: backup
            steps:
              - { id: a, uses: exce, with: { command: ["true"] } }
              - { id: b, uses: exec, timeout: 5 minutes, with: { command: ["true"] } }
            """)
        let ok = try bench.run(["plan", "check", good])
        #expect(ok.status == 0)
        #expect(ok.stdout.isEmpty && ok.stderr.isEmpty)

        let failed = try bench.run(["plan", "check", good, bad])
        #expect(failed.status == 2)
        #expect(failed.stderr.contains("\(bad):4:20: error: unknown step type 'exce'\n  hint: did you mean 'exec'?"))
        #expect(failed.stderr.contains("\(bad):5:35: error: bad duration '5 minutes' for 'timeout'"))
        #expect(!failed.stderr.contains(good))

        let missing = try bench.run(["plan", "check", bench.folder.file("nope.yaml")])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("nope.yaml: error: cannot read plan: no such file"))
    }

    @Test("show prints steps in execution order with secrets as references, also as JSON")
    func show() throws {
        let bench = try CLIBench()
        let file = try bench.plan("show.yaml", """
            plan: shown
            kind: drill
            schedule: { cron: "0 3 1 * *", timezone: UTC }
            steps:
              - { id: last, uses: exec, needs: first, with: { command: [echo, "${env:SHOW_SECRET}"] } }
              - { id: first, uses: exec, timeout: 10m, retries: 2, with: { command: ["true"] } }
            """)
        var cli = bench.cli
        cli.environment["SHOW_SECRET"] = "hunter2-value"
        let text = try cli.run(["plan", "show", file])
        #expect(text.status == 0)
        let firstAt = try #require(text.stdout.range(of: "first  [exec]"))
        let lastAt = try #require(text.stdout.range(of: "last  [exec]  needs first"))
        #expect(firstAt.lowerBound < lastAt.lowerBound)
        #expect(text.stdout.contains("command: [echo, ${env:SHOW_SECRET}]"))
        #expect(text.stdout.contains("schedule   0 3 1 * * (UTC)"))
        #expect(!text.stdout.contains("hunter2"))

        let json = try cli.run(["plan", "show", "--json", file])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.map { $0["id"] as? String } == ["first", "last"])
        #expect(steps.map { $0["stage"] as? Int } == [1, 2])
        #expect(steps[0]["timeout"] as? String == "10m")
        #expect((steps[1]["with"] as? [String: Any])?["command"] as? [String] == ["echo", "${env:SHOW_SECRET}"])
        #expect(!json.stdout.contains("hunter2"))
    }

    @Test("usage errors exit 2; version names the linked libraries")
    func usageAndVersion() throws {
        let bench = try CLIBench()
        let usage = try bench.run(["run"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("Missing expected argument"))
        let badOption = try bench.run(["runs", "list", "--bogus"])
        #expect(badOption.status == 2)
        let version = try bench.run(["version"])
        #expect(version.status == 0)
        for library in ["libpq", "libzstd", "openssl", "libcurl"] {
            #expect(version.stdout.contains(library))
        }
        let help = try bench.run(["--help"])
        #expect(help.status == 0 && help.stdout.contains("plan"))
    }

    @Test("check warns about a drill that restores and checks nothing")
    func emptyDrill() throws {
        let bench = try CLIBench()
        let plan = try bench.plan("empty-drill.yaml", """
            plan: empty
            kind: drill
            steps: [ { id: hello, uses: exec, with: { command: ["true"] } } ]
            """)
        let result = try bench.run(["plan", "check", plan])
        #expect(result.status == 0)
        #expect(result.stderr.contains("warning: this drill restores and checks nothing, so it will always fail"), "\(result.stderr)")
    }
}
