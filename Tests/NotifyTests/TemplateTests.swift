import Foundation
import Notify
import Testing

@Suite("Notification templates")
struct TemplateTests {
    @Test("every event renders a subject that says DRILL or REAL INCIDENT; channel templates replace the text")
    func markers() throws {
        var channel = Channel(name: "ops", kind: .slack, url: "http://127.0.0.1:1/")
        for kind in EventKind.allCases where kind != .test {
            let drill = NotificationEvent(kind: kind, plan: "monthly", runId: "R1", drill: true, summary: "s <b>",
                                          fields: ["step": "restore", "verdict": "PASS", "rpo": "1m", "rto": "5m"])
            let real = NotificationEvent(kind: kind, plan: "failover", runId: "R2", drill: false, summary: "s",
                                         fields: ["step": "promote"])
            let renderedDrill = try Templates.render(drill, for: channel)
            #expect(renderedDrill.subject.contains("DRILL"), "\(kind)")
            #expect(renderedDrill.text.contains("s <b>"))  // text is not HTML-escaped
            #expect(renderedDrill.html.contains("s &lt;b&gt;"))
            if ![.drillStarted, .drillReport].contains(kind) {
                #expect(try Templates.render(real, for: channel).subject.contains("REAL INCIDENT"), "\(kind)")
            }
        }
        channel.templates["run.failed"] = "custom {{plan}} {{marker}}"
        let failed = NotificationEvent(kind: .runFailed, plan: "nightly", runId: "R3", drill: false, summary: "x")
        #expect(try Templates.render(failed, for: channel).text == "custom nightly REAL INCIDENT")
    }
}
