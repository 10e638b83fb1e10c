import Foundation
import LifeboatHTTP
import LifeboatCore
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
                "text": rendered.text, "time": Formatted.timestamp(event.time), "failure": event.failure,
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
            let time = Formatted.timestamp(event.time)
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
            for address in [channel.from ?? "lifeboat@localhost"] + channel.to + channel.cc
            where address.isEmpty || address.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw NotifyError("e-mail channel '\(channel.name)' has an address with a control character or none: "
                    + address.debugDescription)
            }
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
        ] + bodyPart(rendered.text) + [
            "",
            "--\(boundary)",
            "Content-Type: text/html; charset=utf-8",
        ] + bodyPart(rendered.html) + [
            "",
            "--\(boundary)--",
            "",
        ]
        return lines.joined(separator: "\r\n")
    }

    /// A part's transfer encoding, empty line and lines, every line ending in CRLF once joined: 8bit when every
    /// line fits RFC 5322's 998 octets, else base64 in 76-character lines.
    static func bodyPart(_ text: String) -> [String] {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .components(separatedBy: "\n")
        if lines.allSatisfy({ $0.utf8.count <= 998 }) {
            return ["Content-Transfer-Encoding: 8bit", ""] + lines
        }
        let encoded = Data(lines.joined(separator: "\r\n").utf8).base64EncodedString(options: [.lineLength76Characters,
                                                                                              .endLineWithCarriageReturn, .endLineWithLineFeed])
        return ["Content-Transfer-Encoding: base64", ""] + encoded.components(separatedBy: "\r\n")
    }

    /// A header value on one logical line: CR and LF (which would start a new field) become spaces; text that is not
    /// plain ASCII, or too long for one line, becomes RFC 2047 encoded-words of at most 75 characters, folded.
    static func encodedHeader(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\r\n", with: " ").replacingOccurrences(of: "\r", with: " ")
            .replacingOccurrences(of: "\n", with: " ")
        guard !flat.allSatisfy({ $0.isASCII }) || flat.utf8.count > 900 else { return flat }
        // 45 bytes make 60 base64 characters: "=?utf-8?B?" + 60 + "?=" is 72. Words end on whole characters.
        var words: [String] = []
        var current: [UInt8] = []
        for character in flat {
            let bytes = Array(String(character).utf8)
            if current.count + bytes.count > 45, !current.isEmpty {
                words.append("=?utf-8?B?" + Data(current).base64EncodedString() + "?=")
                current = []
            }
            current += bytes
        }
        if !current.isEmpty { words.append("=?utf-8?B?" + Data(current).base64EncodedString() + "?=") }
        return words.joined(separator: "\r\n ")
    }
}

/// A channel that cannot be used as configured (caught before anything is sent).
struct NotifyError: LifeboatFailure, Sendable {
    var message: String
    var code: ErrorCode { .invalidInput }
    init(_ message: String) { self.message = message }
}
