import Foundation
import Mustache

/// The default wording of every event, and rendering with a channel's own templates instead.
public enum Templates {
    /// Subject lines (e-mail subject, PagerDuty summary, first line of chat messages).
    static let subjects: [EventKind: String] = [
        .runStarted: "[{{marker}}] {{plan}}: run {{run}} started",
        .runSucceeded: "[{{marker}}] {{plan}}: run {{run}} succeeded",
        .runFailed: "[{{marker}}] {{plan}}: run {{run}} FAILED",
        .stepFailed: "[{{marker}}] {{plan}}: step {{step}} failed in run {{run}}",
        .approvalWaiting: "[{{marker}}] {{plan}}: waiting for approval of step {{step}} (run {{run}})",
        .drillStarted: "[DRILL] {{plan}}: drill {{run}} started",
        .drillReport: "[DRILL] {{plan}}: drill {{run}} {{verdict}} (RPO {{rpo}}, RTO {{rto}})",
        .rpoBreached: "[{{marker}}] {{plan}}: RPO target breached",
        .rpoRecovered: "[{{marker}}] {{plan}}: RPO back within target",
        .message: "[{{marker}}] {{plan}}: {{summary}}",
        .failoverStarted: "[{{marker}}] FAILOVER {{plan}} started (run {{run}})",
        .failoverStep: "[{{marker}}] FAILOVER {{plan}}: {{summary}}",
        .failoverCompleted: "[{{marker}}] FAILOVER {{plan}} completed (run {{run}})",
        .failoverFailed: "[{{marker}}] FAILOVER {{plan}} STOPPED (run {{run}})",
        .test: "[TEST] Lifeboat test message for channel {{channel}}",
    ]

    /// The text body every channel type uses (chat text, e-mail plain part, webhook `text`).
    static let body = """
        {{subject}}

        {{summary}}
        {{#details}}
        - {{.}}
        {{/details}}

        This is {{#drill}}a DRILL: nothing is down; no action is needed{{/drill}}{{^drill}}a REAL INCIDENT{{/drill}}.
        Plan {{plan}}, run {{run}}, {{time}}.{{#report}} Report: {{report}}{{/report}}
        """

    static let html = """
        <html><body style="font-family:sans-serif">
        <p style="font-size:1.2em"><strong>{{#drill}}DRILL{{/drill}}{{^drill}}REAL INCIDENT{{/drill}}</strong> — {{subject}}</p>
        <p>{{summary}}</p>
        {{#details.first}}<ul>{{/details.first}}{{#details}}<li>{{.}}</li>{{/details}}{{#details.first}}</ul>{{/details.first}}
        <p>Plan <code>{{plan}}</code>, run <code>{{run}}</code>, {{time}}.{{#report}} Report: {{report}}{{/report}}</p>
        </body></html>
        """

    public struct Rendered: Sendable {
        public var subject: String
        public var text: String
        public var html: String
    }

    /// Renders an event for a channel: its own template for the event (or its `default`) replaces the text body.
    public static func render(_ event: NotificationEvent, for channel: Channel) throws -> Rendered {
        var values = event.templateValues
        values["channel"] = channel.name
        let subject = try text(subjects[event.kind] ?? "[{{marker}}] {{plan}}: {{event}}", values)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        values["subject"] = subject
        let custom = channel.templates[event.kind.rawValue] ?? channel.templates["default"]
        let body = try text(custom ?? body, values).trimmingCharacters(in: .whitespacesAndNewlines)
        let page = try MustacheTemplate(string: html).render(values)
        return Rendered(subject: subject, text: body, html: page)
    }

    static func text(_ template: String, _ values: [String: Any]) throws -> String {
        try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + template).render(values)
    }
}
