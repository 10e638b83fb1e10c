import Foundation
import Notify
import Repository
import TestSupport
import Testing
import LifeboatCrypto

@Suite("Delivery to real receivers on loopback", .serialized)
struct DeliveryTests {
    let deliverer = Deliverer(attempts: 3, firstBackoff: 0.2, maximumWait: 5)

    func event(_ kind: EventKind = .runFailed, drill: Bool = false) -> NotificationEvent {
        NotificationEvent(kind: kind, plan: "nightly", runId: "20261126T023000Z-0001", drill: drill,
                          summary: "step backup failed", details: ["connection refused"],
                          fields: ["step": "backup", "verdict": "FAIL", "rpo": "2h", "rto": "1m", "report": "/tmp/r.md"],
                          failure: true)
    }

    @Test("webhook: JSON body, custom headers and an HMAC-SHA256 signature over the body")
    func webhook() async throws {
        let receiver = try await HTTPReceiver()
        var channel = Channel(name: "hook", kind: .webhook, url: receiver.url + "/lifeboat")
        channel.signingSecret = "shared secret"
        channel.headers = [(name: "X-Team", value: "dba")]
        let outcome = deliverer.deliver(event(), to: channel)
        #expect(outcome.delivered && outcome.attempts == 1, "\(outcome)")
        let request = try #require(receiver.requests.first)
        #expect(request.path == "/lifeboat")
        #expect(request.headers["x-team"] == "dba")
        #expect(request.json["event"] as? String == "run.failed")
        #expect(request.json["marker"] as? String == "REAL INCIDENT")
        #expect(request.json["run"] as? String == "20261126T023000Z-0001")
        let expected = "sha256=" + Hex.encode(KeyedHash.hmacSHA256(key: Array("shared secret".utf8), Array(request.body.utf8)))
        #expect(request.headers["x-lifeboat-signature"] == expected)
    }

    @Test("slack and pagerduty payloads: drills are change events, failures trigger and resolve with the run id")
    func payloadShapes() async throws {
        let receiver = try await HTTPReceiver()
        let slack = Channel(name: "chat", kind: .slack, url: receiver.url + "/hooks/x")
        #expect(deliverer.deliver(event(.drillReport, drill: true), to: slack).delivered)
        var pager = Channel(name: "pager", kind: .pagerduty, url: receiver.url)
        pager.routingKey = "R0UTING"
        #expect(deliverer.deliver(event(.drillReport, drill: true), to: pager, pagerDutyAction: "trigger").delivered)
        #expect(deliverer.deliver(event(), to: pager, pagerDutyAction: "trigger").delivered)
        var resolved = event(.runSucceeded)
        resolved.fields["dedup_key"] = "20261126T023000Z-0001"
        #expect(deliverer.deliver(resolved, to: pager, pagerDutyAction: "resolve").delivered)

        let requests = receiver.requests
        #expect(requests.count == 4)
        #expect((requests[0].json["text"] as? String)?.hasPrefix("[DRILL] nightly") == true)
        #expect(((requests[0].json["attachments"] as? [[String: Any]])?.first?["text"] as? String)?.contains("This is a DRILL") == true)
        #expect(requests[1].path == "/v2/change/enqueue")
        #expect(requests[1].json["routing_key"] as? String == "R0UTING")
        #expect(requests[1].json["event_action"] == nil)
        #expect(requests[2].path == "/v2/enqueue")
        #expect(requests[2].json["event_action"] as? String == "trigger")
        #expect(requests[2].json["dedup_key"] as? String == "20261126T023000Z-0001")
        #expect(((requests[2].json["payload"] as? [String: Any])?["summary"] as? String)?.contains("REAL INCIDENT") == true)
        #expect(requests[3].json["event_action"] as? String == "resolve")
        #expect(requests[3].json["dedup_key"] as? String == "20261126T023000Z-0001")
    }

    @Test("500 then 200 is retried; 429 with Retry-After is waited for; a receiver that never answers times out")
    func retries() async throws {
        let flaky = try await HTTPReceiver(actions: ["500", "200"])
        let first = deliverer.deliver(event(), to: Channel(name: "a", kind: .webhook, url: flaky.url))
        #expect(first.delivered && first.attempts == 2 && first.httpStatus == 200)

        let limited = try await HTTPReceiver(actions: ["429:2", "200"])
        let second = deliverer.deliver(event(), to: Channel(name: "b", kind: .webhook, url: limited.url))
        #expect(second.delivered && second.attempts == 2)
        let times = limited.requests.map(\.time)
        #expect(times.count == 2 && times[1] - times[0] >= 1.9, "\(times)")

        let silent = try await HTTPReceiver(actions: ["hang", "hang", "hang"])
        var channel = Channel(name: "c", kind: .webhook, url: silent.url)
        channel.timeout = 1
        let third = deliverer.deliver(event(), to: channel)
        #expect(!third.delivered && third.attempts == 3)
        #expect(third.error?.contains("Timeout") == true, "\(third)")

        let refused = deliverer.deliver(event(), to: Channel(name: "d", kind: .webhook, url: "http://127.0.0.1:\(try PostgresCluster.freePort())/"))
        #expect(!refused.delivered && refused.error != nil)
        let gone = try await HTTPReceiver(actions: ["404"])
        let notFound = deliverer.deliver(event(), to: Channel(name: "e", kind: .webhook, url: gone.url))
        #expect(!notFound.delivered && notFound.attempts == 1 && notFound.httpStatus == 404)
    }

    @Test("e-mail: a drill report with both parts and the DRILL marker, with and without authentication")
    func email() async throws {
        for auth in [false, true] {
            let receiver = auth ? try await SMTPReceiver(username: "lifeboat", password: "pw") : try await SMTPReceiver()
            var channel = Channel(name: "mail", kind: .email, url: receiver.url)
            channel.requireTLS = false
            channel.from = "lifeboat@example.org"
            channel.to = ["dba@example.org"]
            channel.cc = ["lead@example.org"]
            if auth {
                channel.username = "lifeboat"
                channel.password = "pw"
            }
            let outcome = deliverer.deliver(event(.drillReport, drill: true), to: channel)
            #expect(outcome.delivered, "\(outcome)")
            let mail = try #require(receiver.mails.first)
            #expect(mail.from == "lifeboat@example.org")
            #expect(Set(mail.recipients) == ["dba@example.org", "lead@example.org"])
            #expect(mail.login == (auth ? "lifeboat" : nil))
            #expect(mail.content.contains("Subject: [DRILL] nightly: drill 20261126T023000Z-0001 FAIL (RPO 2h, RTO 1m)"))
            #expect(mail.content.contains("Cc: lead@example.org"))
            #expect(mail.content.contains("Content-Type: text/plain; charset=utf-8"))
            #expect(mail.content.contains("Content-Type: text/html; charset=utf-8"))
            #expect(mail.content.contains("This is a DRILL"))
            #expect(mail.content.contains("Report: /tmp/r.md"))
        }
        // A wrong password is refused, not silently dropped.
        let strict = try await SMTPReceiver(username: "lifeboat", password: "pw")
        var channel = Channel(name: "mail", kind: .email, url: strict.url)
        channel.requireTLS = false
        channel.to = ["dba@example.org"]
        channel.username = "lifeboat"
        channel.password = "wrong"
        #expect(!Deliverer(attempts: 1).deliver(event(), to: channel).delivered)
        #expect(strict.mails.isEmpty)
    }
}
