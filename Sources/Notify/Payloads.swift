import Foundation
import LifeboatHTTP
import LifeboatCrypto

/// What a channel sends for an event: an HTTP request (webhook, Slack, PagerDuty) or an e-mail.
enum Payload {
    case http(HTTPRequest)
    case email(SMTPMessage)

    static func build(_ event: NotificationEvent, for channel: Channel, pagerDutyAction: String? = nil) throws -> Payload {
        let rendered = try Templates.render(event, for: channel)
        switch channel.kind {
        case .webhook:
            var object: [String: Any] = [
                "event": event.kind.rawValue, "plan": event.plan, "run": event.runId, "drill": event.drill,
                "marker": event.marker, "summary": event.summary, "details": event.details, "subject": rendered.subject,
                "text": rendered.text, "time": ISO8601DateFormatter().string(from: event.time), "failure": event.failure,
            ]
            object["fields"] = event.fields
            let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            var headers = [(name: "Content-Type", value: "application/json")] + channel.headers
            if let secret = channel.signingSecret {
                let mac = KeyedHash.hmacSHA256(key: Array(secret.utf8), Array(body))
                headers.append((name: "X-Lifeboat-Signature", value: "sha256=" + Hex.encode(mac)))
            }
            headers.append((name: "X-Lifeboat-Event", value: event.kind.rawValue))
            return .http(HTTPRequest(url: channel.url, headers: headers, body: Array(body), timeout: channel.timeout,
                                     caFile: channel.caFile))
        case .slack:
            let colour = event.drill ? "#0969da" : (event.failure ? "#cf222e" : "#1a7f37")
            let object: [String: Any] = [
                "text": rendered.subject,
                "attachments": [["color": colour, "text": rendered.text, "fallback": rendered.subject]],
            ]
            let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return .http(HTTPRequest(url: channel.url, headers: [(name: "Content-Type", value: "application/json")] + channel.headers,
                                     body: Array(body), timeout: channel.timeout, caFile: channel.caFile))
        case .pagerduty:
            let time = ISO8601DateFormatter().string(from: event.time)
            var object: [String: Any] = ["routing_key": channel.routingKey ?? ""]
            let url: String
            if event.drill || pagerDutyAction == nil {
                // Drills (and news that pages nobody) are change events: they never open an incident.
                url = channel.url.hasSuffix("/") ? channel.url + "v2/change/enqueue" : channel.url + "/v2/change/enqueue"
                object["payload"] = ["summary": rendered.subject, "timestamp": time, "source": "lifeboat",
                                     "custom_details": ["text": rendered.text, "run": event.runId, "plan": event.plan,
                                                        "marker": event.marker]]
            } else {
                url = channel.url.hasSuffix("/") ? channel.url + "v2/enqueue" : channel.url + "/v2/enqueue"
                object["event_action"] = pagerDutyAction
                object["dedup_key"] = event.fields["dedup_key"] ?? event.runId
                if pagerDutyAction == "trigger" {
                    object["payload"] = ["summary": rendered.subject, "timestamp": time, "source": "lifeboat",
                                         "severity": "critical", "component": event.plan,
                                         "custom_details": ["text": rendered.text, "run": event.runId, "marker": event.marker]]
                }
            }
            let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return .http(HTTPRequest(url: url, headers: [(name: "Content-Type", value: "application/json")], body: Array(body),
                                     timeout: channel.timeout, caFile: channel.caFile))
        case .email:
            return .email(SMTPMessage(url: channel.url, requireTLS: channel.requireTLS && channel.url.hasPrefix("smtp://"),
                                      username: channel.username, password: channel.password,
                                      from: channel.from ?? "lifeboat@localhost", recipients: channel.to + channel.cc,
                                      message: Array(mime(rendered, channel: channel, event: event).utf8),
                                      timeout: channel.timeout, caFile: channel.caFile))
        }
    }

    /// A multipart/alternative message: plain text and HTML.
    static func mime(_ rendered: Templates.Rendered, channel: Channel, event: NotificationEvent) -> String {
        let boundary = "lifeboat-" + SecureRandom.hex(12)
        let date = DateFormatter()
        date.locale = Locale(identifier: "en_US_POSIX")
        date.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        var lines = [
            "From: \(channel.from ?? "lifeboat@localhost")",
            "To: \(channel.to.joined(separator: ", "))",
        ]
        if !channel.cc.isEmpty { lines.append("Cc: \(channel.cc.joined(separator: ", "))") }
        lines += [
            "Subject: \(encodedHeader(rendered.subject))",
            "Date: \(date.string(from: event.time))",
            "Message-ID: <\(event.runId).\(event.kind.rawValue).\(SecureRandom.hex(6))@lifeboat>",
            "X-Lifeboat-Event: \(event.kind.rawValue)",
            "X-Lifeboat-Run: \(event.runId)",
            "X-Lifeboat-Drill: \(event.drill ? "yes" : "no")",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            rendered.text,
            "",
            "--\(boundary)",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            rendered.html,
            "",
            "--\(boundary)--",
            "",
        ]
        return lines.joined(separator: "\r\n")
    }

    /// RFC 2047 for subjects that are not plain ASCII.
    static func encodedHeader(_ text: String) -> String {
        guard !text.allSatisfy({ $0.isASCII }) else { return text }
        return "=?utf-8?B?" + Data(text.utf8).base64EncodedString() + "?="
    }
}
