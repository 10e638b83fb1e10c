import Foundation
import LifeboatHTTP
@testable import Notify
import Testing

/// The e-mail an `email` channel sends: the envelope and the RFC 5322 message `Payload` builds (no SMTP server).
@Suite("E-mail messages")
struct SMTPMessageTests {
    static let time = Date(timeIntervalSince1970: 1_795_660_200)  // 2026-11-26 02:30:00 UTC

    static func event(_ kind: EventKind = .runFailed, summary: String = "step backup failed",
                      details: [String] = ["connection refused"], drill: Bool = false) -> NotificationEvent {
        NotificationEvent(kind: kind, plan: "nightly", runId: "20261126T023000Z-0001", drill: drill, summary: summary,
                          details: details, fields: ["step": "backup"], time: time, failure: true)
    }

    static func channel(url: String = "smtp://mail.example.org:587") -> Channel {
        var channel = Channel(name: "mail", kind: .email, url: url)
        channel.from = "lifeboat@example.org"
        channel.to = ["dba@example.org", "oncall@example.org"]
        channel.cc = ["lead@example.org"]
        return channel
    }

    static func email(_ event: NotificationEvent = event(), _ channel: Channel = channel()) throws -> SMTPMessage {
        guard case .email(let message) = try Payload.build(event, for: channel) else {
            throw MessageError("an email channel built something other than an e-mail")
        }
        return message
    }

    /// A message split at its first empty line: header fields (unfolded) and body.
    struct Parsed {
        var text: String
        var headerLines: [String]
        var headers: [(name: String, value: String)]
        var body: String

        init(_ bytes: [UInt8]) throws {
            text = String(decoding: bytes, as: UTF8.self)
            guard let end = text.range(of: "\r\n\r\n") else { throw MessageError("no end of the header section") }
            headerLines = text[..<end.lowerBound].components(separatedBy: "\r\n")
            body = String(text[end.upperBound...])
            var headers: [(name: String, value: String)] = []
            for line in headerLines {
                if line.first == " " || line.first == "\t", !headers.isEmpty {
                    headers[headers.count - 1].value += line  // a folded line continues the field before it
                    continue
                }
                guard let colon = line.firstIndex(of: ":") else { throw MessageError("not a header field: \(line)") }
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
            }
            self.headers = headers
        }

        func values(_ name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        func value(_ name: String) -> String? { values(name).first }

        var boundary: String? {
            guard let type = value("Content-Type"), let range = type.range(of: "boundary=\"") else { return nil }
            return String(type[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    /// The text of an RFC 2047 `=?utf-8?B?…?=` header (one or more encoded-words), or the text as it is.
    static func decoded(_ value: String) -> String {
        let words = value.split(separator: " ")
        guard !words.isEmpty, words.allSatisfy({ $0.hasPrefix("=?utf-8?B?") && $0.hasSuffix("?=") }) else { return value }
        let bytes = words.flatMap { word -> [UInt8] in
            Array(Data(base64Encoded: String(word.dropFirst(10).dropLast(2))) ?? Data())
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Envelope, header fields and structure

    @Test("the envelope: sender, every To and Cc recipient, the server, STARTTLS required on smtp:// only")
    func envelope() throws {
        let plain = try SMTPMessageTests.email()
        #expect(plain.from == "lifeboat@example.org")
        #expect(plain.recipients == ["dba@example.org", "oncall@example.org", "lead@example.org"])
        #expect(plain.url == "smtp://mail.example.org:587")
        #expect(plain.requireTLS)
        let implicitTLS = try SMTPMessageTests.email(SMTPMessageTests.event(),
                                                     SMTPMessageTests.channel(url: "smtps://mail.example.org:465"))
        #expect(!implicitTLS.requireTLS)
        var relay = SMTPMessageTests.channel(url: "smtp://127.0.0.1:25")
        relay.requireTLS = false
        relay.from = nil
        let local = try SMTPMessageTests.email(SMTPMessageTests.event(), relay)
        #expect(!local.requireTLS)
        #expect(local.from == "lifeboat@localhost")
        #expect(try Parsed(local.message).value("From") == "lifeboat@localhost")
    }

    @Test("every header field is there once, with the values of the event and the channel")
    func headerFields() throws {
        let message = try Parsed(SMTPMessageTests.email().message)
        let names = message.headers.map(\.name)
        #expect(names == ["From", "To", "Cc", "Subject", "Date", "Message-ID", "X-Lifeboat-Event", "X-Lifeboat-Run",
                          "X-Lifeboat-Drill", "MIME-Version", "Content-Type"])
        #expect(message.value("From") == "lifeboat@example.org")
        #expect(message.value("To") == "dba@example.org, oncall@example.org")
        #expect(message.value("Cc") == "lead@example.org")
        #expect(message.value("Subject") == "[REAL INCIDENT] nightly: run 20261126T023000Z-0001 FAILED")
        #expect(message.value("X-Lifeboat-Event") == "run.failed")
        #expect(message.value("X-Lifeboat-Run") == "20261126T023000Z-0001")
        #expect(message.value("X-Lifeboat-Drill") == "no")
        #expect(message.value("MIME-Version") == "1.0")
        #expect(message.value("Content-Type")?.hasPrefix("multipart/alternative; boundary=\"lifeboat-") == true)

        var noCc = SMTPMessageTests.channel()
        noCc.cc = []
        let drill = try Parsed(SMTPMessageTests.email(SMTPMessageTests.event(.drillReport, drill: true), noCc).message)
        #expect(drill.values("Cc").isEmpty)
        #expect(drill.value("X-Lifeboat-Drill") == "yes")
        #expect(drill.value("Subject")?.hasPrefix("[DRILL] nightly: drill 20261126T023000Z-0001") == true)
    }

    @Test("Date is an RFC 5322 date-time of the event's time; Message-ID is a unique <local@domain>")
    func dateAndMessageID() throws {
        let first = try Parsed(SMTPMessageTests.email().message)
        let second = try Parsed(SMTPMessageTests.email().message)
        let parser = DateFormatter()
        parser.locale = Locale(identifier: "en_US_POSIX")
        parser.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let date = try #require(first.value("Date"))
        #expect(date.wholeMatch(of: /(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d [+-]\d{4}/) != nil, "\(date)")
        #expect(parser.date(from: date) == SMTPMessageTests.time)

        let id = try #require(first.value("Message-ID"))
        #expect(id.wholeMatch(of: /<20261126T023000Z-0001\.run\.failed\.[0-9a-f]{12}@lifeboat>/) != nil, "\(id)")
        #expect(second.value("Message-ID") != id)
        #expect(second.boundary != first.boundary)
    }

    @Test("multipart/alternative: the boundary opens a plain-text and an HTML part and closes the message")
    func parts() throws {
        let event = SMTPMessageTests.event(details: ["connection refused", "<b>bold</b> & more"])
        let message = try Parsed(SMTPMessageTests.email(event).message)
        let boundary = try #require(message.boundary)
        #expect(boundary.wholeMatch(of: /lifeboat-[0-9a-f]{24}/) != nil, "\(boundary)")
        let rendered = try Templates.render(event, for: SMTPMessageTests.channel())

        // The body: delimiter, part, delimiter, part, close delimiter, and nothing after it but the line end.
        let pieces = message.body.components(separatedBy: "--\(boundary)")
        #expect(pieces.count == 4)
        #expect(pieces.first == "")
        #expect(pieces.last == "--\r\n")
        let plain = pieces[1], html = pieces[2]
        #expect(plain.hasPrefix("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"))
        #expect(html.hasPrefix("\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"))
        #expect(plain.contains("REAL INCIDENT") && plain.contains("<b>bold</b> & more"))
        #expect(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; more"))
        // Each part's content is the rendered text, then the line end before the next delimiter.
        let plainContent = String(plain[plain.range(of: "\r\n\r\n")!.upperBound...])
        #expect(plainContent.hasSuffix("\r\n\r\n") && html.hasSuffix("\r\n\r\n"))
        #expect(String(decoding: plainContent.utf8.dropLast(4), as: UTF8.self)
            .replacingOccurrences(of: "\r\n", with: "\n") == rendered.text)
        // The boundary appears nowhere but in its header parameter and its delimiter lines.
        #expect(message.text.components(separatedBy: boundary).count - 1 == 4)
    }

    @Test("the header section: CRLF line ends only, and nothing but field lines up to the empty line")
    func headerLineEnds() throws {
        let bytes = try SMTPMessageTests.email().message
        let text = String(decoding: bytes, as: UTF8.self)
        let header = String(text[..<text.range(of: "\r\n\r\n")!.lowerBound])
        let lines = header.components(separatedBy: "\r\n")
        #expect(lines.count == 11)
        #expect(lines.allSatisfy { !$0.unicodeScalars.contains { $0 == "\r" || $0 == "\n" } })
        #expect(lines.allSatisfy { $0.wholeMatch(of: /[A-Za-z][A-Za-z0-9-]*: \S.*/) != nil }, "\(lines)")
    }

    @Test("the whole message, body included, ends every line with CRLF (no bare LF, which servers refuse)")
    func noBareLineFeeds() throws {
        // A multi-line body: the default text has several lines; the channel's own text has a line that is a dot.
        var channel = SMTPMessageTests.channel()
        channel.templates["run.failed"] = "line one\n.\nline three"
        let bytes = try SMTPMessageTests.email(SMTPMessageTests.event(details: ["first", "last"])).message
            + SMTPMessageTests.email(SMTPMessageTests.event(), channel).message
        let bare = bytes.indices.filter { bytes[$0] == 0x0a && ($0 == 0 || bytes[$0 - 1] != 0x0d) }
        let lone = bytes.indices.filter { bytes[$0] == 0x0d && ($0 == bytes.count - 1 || bytes[$0 + 1] != 0x0a) }
        #expect(bare.isEmpty, "\(bare.count) bare LF")
        #expect(lone.isEmpty, "\(lone.count) bare CR")
        // libcurl dot-stuffs only a "." that follows CRLF: a line that is a dot must be one, or a lenient server
        // may take LF "." LF for the end of the data.
        let dotLineEndsInCRLF = String(decoding: bytes, as: UTF8.self).contains("\r\nline one\r\n.\r\nline three\r\n")
        #expect(dotLineEndsInCRLF, "the line that is a dot is not CRLF \".\" CRLF")
    }

    // MARK: - Hostile text

    @Test("a subject with CR/LF (from a notify step's summary) does not start a new header field")
    func subjectInjection() throws {
        for summary in ["done\r\nBcc: victim@evil.example", "done\nBcc: victim@evil.example",
                        "done\rBcc: victim@evil.example", "done\r\n\r\ninjected body"] {
            let event = SMTPMessageTests.event(.message, summary: summary)
            let message: SMTPMessage
            do {
                message = try SMTPMessageTests.email(event)
            } catch {
                continue  // refusing to build it is right too
            }
            let parsed = try Parsed(message.message)
            #expect(parsed.values("Bcc").isEmpty, "\(summary.debugDescription)")
            #expect(parsed.headerLines.allSatisfy { !$0.unicodeScalars.contains { $0 == "\r" || $0 == "\n" } },
                    "\(summary.debugDescription)")
            #expect(parsed.headers.map(\.name) == ["From", "To", "Cc", "Subject", "Date", "Message-ID",
                                                   "X-Lifeboat-Event", "X-Lifeboat-Run", "X-Lifeboat-Drill",
                                                   "MIME-Version", "Content-Type"], "\(summary.debugDescription)")
            #expect(parsed.value("Content-Type")?.hasPrefix("multipart/alternative") == true)
        }
    }

    @Test("an address with CR/LF in the channel does not start a new header field")
    func addressInjection() throws {
        var channel = SMTPMessageTests.channel()
        channel.to = ["dba@example.org\r\nBcc: victim@evil.example"]
        channel.from = "lifeboat@example.org\r\nReply-To: attacker@evil.example"
        let message: SMTPMessage
        do {
            message = try SMTPMessageTests.email(SMTPMessageTests.event(), channel)
        } catch {
            return  // refusing the channel is right too
        }
        let parsed = try Parsed(message.message)
        #expect(parsed.values("Bcc").isEmpty)
        #expect(parsed.values("Reply-To").isEmpty)
        #expect(parsed.headers.map(\.name).filter { ["From", "To"].contains($0) } == ["From", "To"])
    }

    @Test("a non-ASCII subject is RFC 2047 encoded and decodes to the subject; an ASCII one is left as it is")
    func nonASCIISubject() throws {
        let event = SMTPMessageTests.event(.message, summary: "sauvegarde échouée — データベース 🚨")
        let rendered = try Templates.render(event, for: SMTPMessageTests.channel())
        let parsed = try Parsed(SMTPMessageTests.email(event).message)
        let subject = try #require(parsed.value("Subject"))
        #expect(subject.allSatisfy { $0.isASCII })
        #expect(subject.hasPrefix("=?utf-8?B?") && subject.hasSuffix("?="))
        #expect(SMTPMessageTests.decoded(subject) == rendered.subject)
        #expect(rendered.subject == "[REAL INCIDENT] nightly: sauvegarde échouée — データベース 🚨")
        // Every header field and the message's bytes outside the 8bit parts are ASCII.
        #expect(parsed.headerLines.allSatisfy { $0.allSatisfy { $0.isASCII } })
        #expect(Payload.encodedHeader("plain ASCII") == "plain ASCII")
        #expect(Payload.encodedHeader("é") == "=?utf-8?B?w6k=?=")
    }

    @Test("long lines: no line over 998 octets (RFC 5322), no encoded-word over 75 characters (RFC 2047)")
    func lineLengths() throws {
        let event = SMTPMessageTests.event(.message, summary: String(repeating: "données ", count: 120),
                                           details: [String(repeating: "x", count: 3000)])
        let bytes = try SMTPMessageTests.email(event).message
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let longest = lines.map(\.utf8.count).max() ?? 0
        #expect(longest <= 998, "a line of \(longest) octets")
        let parsed = try Parsed(bytes)
        let subject = try #require(parsed.value("Subject"))
        let words = subject.split(separator: " ")
        #expect(words.allSatisfy { $0.count <= 75 }, "encoded-words of \(words.map(\.count)) characters")
        #expect(SMTPMessageTests.decoded(subject) == (try Templates.render(event, for: SMTPMessageTests.channel())).subject)
    }
}

struct MessageError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
