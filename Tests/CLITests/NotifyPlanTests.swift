import Foundation
import Repository
import TestSupport
import Testing
import LifeboatCrypto

@Suite("Notifications from plans: routing, PagerDuty incidents, drills by e-mail, channels that are down", .serialized)
struct NotifyPlanTests {
    @Test("events go where the plan routes them; a failure triggers PagerDuty and the next success resolves it")
    func routing() async throws {
        let hook = try await HTTPReceiver(), chat = try await HTTPReceiver(), pager = try await HTTPReceiver()
        let bench = try CLIBench(environment: ["HOOK_SECRET": "s3cr3t-signing", "PD_KEY": "PDKEY123"])
        let flag = bench.folder.file("fail")
        try bench.plan("lifeboat.yaml", """
            channels:
              hook: { type: webhook, url: "\(hook.url)/x", secret: "${env:HOOK_SECRET}" }
              chat: { type: slack, url: "\(chat.url)/slack" }
              pager: { type: pagerduty, url: "\(pager.url)", routing_key: "${env:PD_KEY}" }
            """)
        let plan = try bench.plan("nightly.yaml", """
            plan: nightly
            kind: backup
            notify:
              - { channels: [hook], events: ["*"] }
              - { channels: [chat, pager], events: [run.failed] }
              - { channels: [pager], events: [run.succeeded] }
            steps:
              - id: work
                uses: exec
                with: { command: [sh, -c, 'test ! -e \(flag) || { echo disk full >&2; exit 3; }'] }
            """)
        try bench.folder.write("fail", "")
        let failed = try bench.run(["run", plan])
        #expect(failed.status == 1)
        let failedRun = try #require(try bench.runs().first?["id"] as? String)

        let events = hook.requests.map { $0.json["event"] as? String ?? "" }
        #expect(events.sorted() == ["run.failed", "run.started", "step.failed"])
        for request in hook.requests {
            let signature = "sha256=" + Hex.encode(KeyedHash.hmacSHA256(key: Array("s3cr3t-signing".utf8), Array(request.body.utf8)))
            #expect(request.headers["x-lifeboat-signature"] == signature)
            #expect(request.json["marker"] as? String == "REAL INCIDENT")
            #expect(request.json["run"] as? String == failedRun)
        }
        let stepFailed = try #require(hook.requests.first { $0.json["event"] as? String == "step.failed" })
        #expect((stepFailed.json["details"] as? [String])?.first?.contains("disk full") == true)
        #expect(chat.requests.count == 1)
        #expect((chat.requests.first?.json["text"] as? String)?.contains("[REAL INCIDENT] nightly: run \(failedRun) FAILED") == true)
        let trigger = try #require(pager.requests.first)
        #expect(trigger.path == "/v2/enqueue")
        #expect(trigger.json["event_action"] as? String == "trigger")
        #expect(trigger.json["dedup_key"] as? String == failedRun)
        #expect(trigger.json["routing_key"] as? String == "PDKEY123")

        try FileManager.default.removeItem(atPath: flag)
        let fixed = try bench.run(["run", plan])
        #expect(fixed.status == 0, "\(fixed.stderr)")
        #expect(fixed.stdout.isEmpty && fixed.stderr.isEmpty)
        let actions = pager.requests.map { "\($0.json["event_action"] as? String ?? "change") \($0.json["dedup_key"] as? String ?? "")" }
        #expect(actions.contains("resolve \(failedRun)"), "\(actions)")
        // Resolved once: a third successful run resolves nothing more.
        #expect(try bench.run(["run", plan]).status == 0)
        #expect(pager.requests.filter { $0.json["event_action"] as? String == "resolve" }.count == 1)
        // No secret in the catalog.
        let catalog = try String(contentsOfFile: bench.folder.file("state/catalog.sqlite"), encoding: .isoLatin1)
        #expect(!catalog.contains("s3cr3t-signing") && !catalog.contains("PDKEY123"))
    }

    @Test("a drill's report goes out by e-mail marked DRILL; PagerDuty gets a change event; a notify step waits")
    func drillByEmail() async throws {
        let smtp = try await SMTPReceiver(username: "relay", password: "relay-pw")
        let pager = try await HTTPReceiver()
        let bench = try CLIBench(environment: ["SMTP_PASSWORD": "relay-pw"])
        try bench.plan("lifeboat.yaml", """
            channels:
              leads:
                type: email
                url: "\(smtp.url)"
                starttls: false
                username: relay
                password: "${env:SMTP_PASSWORD}"
                from: lifeboat@example.org
                to: [leads@example.org]
              pager: { type: pagerduty, url: "\(pager.url)", routing_key: K }
            """)
        let plan = try bench.plan("drill.yaml", """
            plan: quarterly
            kind: drill
            notify:
              - { channels: [leads], events: [drill.report] }
              - { channels: [pager], events: [drill.*, run.*] }
            steps:
              - id: announce
                uses: notify
                with: { channels: [leads], message: "Drill of the orders database starts now" }
            """)
        let result = try bench.run(["run", plan])
        #expect(result.status == 4)  // restores and checks nothing: the drill proves nothing
        let mails = smtp.mails
        #expect(mails.count == 2)
        let report = try #require(mails.first { $0.content.contains("X-Lifeboat-Event: drill.report") })
        #expect(report.login == "relay")
        #expect(report.content.contains("Subject: [DRILL] quarterly: drill"))
        #expect(report.content.contains("text/plain") && report.content.contains("text/html"))
        #expect(report.content.contains("This is a DRILL"))
        #expect(report.content.contains("Report: ") && report.content.contains(".md"))
        let announce = try #require(mails.first { $0.content.contains("X-Lifeboat-Event: message") })
        #expect(announce.content.contains("Drill of the orders database starts now"))
        #expect(!pager.requests.isEmpty)
        #expect(pager.requests.allSatisfy { $0.path == "/v2/change/enqueue" && $0.json["event_action"] == nil })
    }

    @Test("a channel that never answers does not fail the plan (it is reported); a required one does; notify test")
    func channelDown() async throws {
        let silent = try await HTTPReceiver(actions: Array(repeating: "hang", count: 20))
        let flaky = try await HTTPReceiver(actions: ["500"])
        let bench = try CLIBench()
        try bench.plan("lifeboat.yaml", """
            channels:
              silent: { type: webhook, url: "\(silent.url)", timeout: 1s }
              flaky: { type: webhook, url: "\(flaky.url)" }
              must: { type: webhook, url: "http://127.0.0.1:\(try PostgresCluster.freePort())/", required: true, timeout: 1s }
            """)
        let plan = try bench.plan("quiet.yaml", """
            plan: quiet
            kind: backup
            notify: [ { channels: [silent, flaky], events: [run.succeeded] } ]
            steps: [ { id: ok, uses: exec, with: { command: ["true"] } } ]
            """)
        let result = try bench.run(["run", plan])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("channel 'silent' was not notified of run.succeeded after 4 attempts"))
        #expect(flaky.requests.count == 2)  // 500, then delivered
        let runId = try #require(try bench.runs().first?["id"] as? String)
        let shown = try bench.run(["runs", "show", runId, "--json"])
        let notifications = (try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])?["notifications"]
            as? [[String: Any]] ?? []
        #expect(notifications.count == 2)
        #expect(notifications.contains { $0["channel"] as? String == "silent" && $0["delivered"] as? Bool == false && $0["attempts"] as? Int == 4 })
        #expect(notifications.contains { $0["channel"] as? String == "flaky" && $0["delivered"] as? Bool == true && $0["attempts"] as? Int == 2 })

        let strict = try bench.plan("strict.yaml", """
            plan: strict
            kind: backup
            notify: [ { channels: [must], events: [run.succeeded] } ]
            steps: [ { id: ok, uses: exec, with: { command: ["true"] } } ]
            """)
        let failed = try bench.run(["run", strict])
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("required channel 'must' could not be notified"))

        #expect(try bench.run(["notify", "test", "flaky", "--inventory", bench.folder.file("lifeboat.yaml")]).status == 0)
        let down = try bench.run(["notify", "test", "must", "--inventory", bench.folder.file("lifeboat.yaml")])
        #expect(down.status == 1)
        #expect(down.stderr.contains("did not accept the test message"))
    }
}
