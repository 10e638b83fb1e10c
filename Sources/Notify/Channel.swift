import Foundation

/// Where messages go: one channel of the inventory, its secrets already read.
public struct Channel: Sendable {
    public enum Kind: String, Sendable {
        case webhook, slack, email, pagerduty
    }

    public var name: String
    public var kind: Kind
    /// Webhook, Slack or PagerDuty endpoint; for e-mail the SMTP server (`smtp://host:587`, `smtps://host:465`).
    public var url: String
    public var headers: [(name: String, value: String)] = []
    /// Webhook: signs the body with HMAC-SHA256 under this secret (header `X-Lifeboat-Signature: sha256=<hex>`).
    public var signingSecret: String?
    /// PagerDuty routing key.
    public var routingKey: String?
    /// E-mail.
    public var from: String?
    public var to: [String] = []
    public var cc: [String] = []
    public var username: String?
    public var password: String?
    /// E-mail over `smtp://`: require STARTTLS (default true; a local relay may turn it off).
    public var requireTLS = true
    public var caFile: String?
    /// A channel the plan cannot do without: when it stays down, the plan fails.
    public var required = false
    /// Mustache templates by event name (`run.failed`, or `default`), replacing Lifeboat's text for this channel.
    public var templates: [String: String] = [:]
    public var timeout: TimeInterval = 15
    /// At least this long between two messages on this channel.
    public var minimumInterval: TimeInterval = 1

    public init(name: String, kind: Kind, url: String) {
        self.name = name
        self.kind = kind
        self.url = url
    }

    /// Everything in this channel that must never be shown (for redaction).
    public var secrets: [String] {
        [url, signingSecret, routingKey, password].compactMap { $0 }.filter { !$0.isEmpty }
            + headers.map(\.value)
    }
}
