import Foundation
import Postgres

/// An HTTP server on loopback that records every request and answers from a script: each request takes the next
/// action (`200`, `500`, `429:2` = 429 with `Retry-After: 2`, `hang` = never answer); afterwards it answers 200.
public final class HTTPReceiver: Sendable {
    private let server: LoopbackScript

    public var folder: TemporaryDirectory { server.folder }
    public var port: Int { server.port }
    public var url: String { "http://127.0.0.1:\(port)" }

    public struct Request: Sendable {
        public var path: String
        public var headers: [String: String]
        public var body: String
        public var time: Double

        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        }
    }

    public init(actions: [String] = []) async throws {
        server = try await LoopbackScript(prefix: "lifeboat-http", script: Self.script, what: "the HTTP receiver") { folder in
            try FileManager.default.createDirectory(atPath: folder.file("requests"), withIntermediateDirectories: true)
            return [folder.file("requests")] + actions
        }
    }

    /// The requests received so far, in order.
    public var requests: [Request] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.file("requests"))) ?? []).sorted()
        return names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder.file("requests/" + name)),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return Request(path: object["path"] as? String ?? "", headers: object["headers"] as? [String: String] ?? [:],
                           body: object["body"] as? String ?? "", time: object["time"] as? Double ?? 0)
        }
    }

    static let script = #"""
        import http.server, json, sys, threading, time
        port, folder, actions = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
        lock, counter = threading.Lock(), [0]
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                with lock:
                    number = counter[0]
                    counter[0] += 1
                with open('%s/%05d.json' % (folder, number), 'w') as out:
                    json.dump({'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()},
                               'body': body.decode('utf-8', 'replace'), 'time': time.time()}, out)
                action = actions[number] if number < len(actions) else '200'
                if action == 'hang':
                    time.sleep(600)
                    return
                code, _, retry = action.partition(':')
                self.send_response(int(code))
                if retry:
                    self.send_header('Retry-After', retry)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'ok')
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler).serve_forever()
        """#
}

/// An SMTP server on loopback (aiosmtpd) that stores every message; with `username`/`password` it requires
/// authentication (over plain text, as a local relay might).
public final class SMTPReceiver: Sendable {
    private let server: LoopbackScript

    public var folder: TemporaryDirectory { server.folder }
    public var port: Int { server.port }
    public var url: String { "smtp://127.0.0.1:\(port)" }

    public struct Mail: Sendable {
        public var from: String
        public var recipients: [String]
        public var login: String?
        public var content: String
    }

    public init(username: String? = nil, password: String? = nil) async throws {
        server = try await LoopbackScript(prefix: "lifeboat-smtp", script: Self.script,
                                          what: "the SMTP receiver (is python3-aiosmtpd installed?)") { folder in
            try FileManager.default.createDirectory(atPath: folder.file("mail"), withIntermediateDirectories: true)
            return [folder.file("mail")] + [username, password].compactMap { $0 }
        }
    }

    public var mails: [Mail] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.file("mail"))) ?? []).sorted()
        return names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder.file("mail/" + name)),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return Mail(from: object["from"] as? String ?? "", recipients: object["to"] as? [String] ?? [],
                        login: object["login"] as? String, content: object["content"] as? String ?? "")
        }
    }

    static let script = #"""
        import json, sys, time
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword
        port, folder = int(sys.argv[1]), sys.argv[2]
        user, password = (sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else (None, None)
        class Handler:
            async def handle_DATA(self, server, session, envelope):
                data = getattr(session, 'auth_data', None)
                login = data.login.decode() if isinstance(data, LoginPassword) else None
                with open('%s/%d.json' % (folder, time.time_ns()), 'w') as out:
                    json.dump({'from': envelope.mail_from, 'to': envelope.rcpt_tos, 'login': login,
                               'content': envelope.original_content.decode('utf-8', 'replace')}, out)
                return '250 OK'
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user \
                and auth_data.password.decode() == password
            return AuthResult(success=ok, auth_data=auth_data)
        options = dict(auth_require_tls=False, authenticator=authenticator, auth_required=True) if user else {}
        controller = Controller(Handler(), hostname='127.0.0.1', port=port, **options)
        controller.start()
        while True:
            time.sleep(3600)
        """#
}
