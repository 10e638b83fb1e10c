import Foundation
import Postgres

/// An S3-compatible server on loopback for tests: moto's server, started once per test process and shared (each
/// test uses a bucket of its own). It stops when the test process ends, however it ends.
public final class S3Server: Sendable {
    private let server: LoopbackScript

    public var port: Int { server.port }
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Credentials moto accepts (it does not check them); tests pass them as the environment.
    public static let environment = ["AWS_ACCESS_KEY_ID": "lifeboat-test", "AWS_SECRET_ACCESS_KEY": "lifeboat-test-secret"]

    private static let instance = SharedS3Server()

    /// The process's server, started on first use.
    public static func shared() async throws -> S3Server { try await instance.get() }

    /// A fresh location on the shared server: `s3://BUCKET/PREFIX?endpoint=…` (the bucket is created by `repo init`).
    public func location(_ name: String = "repo", through proxy: FaultProxy? = nil) -> String {
        let bucket = "lifeboat-" + SecureRandomName.make()
        return "s3://\(bucket)/\(name)?endpoint=\(proxy?.endpoint ?? endpoint)"
    }

    init() async throws {
        server = try await LoopbackScript(prefix: "lifeboat-s3", script: Self.script, python: try Self.python(),
                                          startup: 30, what: "the S3 server (moto; run Scripts/bootstrap.sh)")
    }

    /// A Python that has moto: `LIFEBOAT_TEST_PYTHON`, the set-up script's virtual environment, or `python3`.
    static func python() throws -> String {
        if let given = ProcessInfo.processInfo.environment["LIFEBOAT_TEST_PYTHON"], !given.isEmpty { return given }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let candidates = [root + "/.build/test-venv/bin/python3"]
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { $0 + "/python3" }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? ProcessRunner.run(candidate, ["-c", "import moto.server"]))?.status == 0 { return candidate }
        }
        throw FixtureError("no Python with moto found; run Scripts/bootstrap.sh (it installs moto[server])")
    }

    static let script = #"""
        import os, sys, time
        from moto.server import ThreadedMotoServer
        server = ThreadedMotoServer(ip_address='127.0.0.1', port=int(sys.argv[1]), verbose=False)
        server.start()
        parent = os.getppid()
        while os.getppid() == parent:
            time.sleep(0.5)
        server.stop()
        """#
}

private actor SharedS3Server {
    private var server: S3Server?

    func get() async throws -> S3Server {
        if let server { return server }
        let started = try await S3Server()
        server = started
        return started
    }
}

/// Random lower-case names for buckets.
public enum SecureRandomName {
    public static func make() -> String {
        String((0..<12).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement()! })
    }
}

/// An HTTP proxy on loopback in front of an S3 server that injects faults: request number n (from 0) takes
/// action `actions[n % actions.count]`:
/// - `ok`: forwarded untouched;
/// - `500`, `503`: answered with that status and an S3 error document (InternalError, ServiceUnavailable);
/// - `slowdown`: 503 SlowDown, as S3 throttles;
/// - `drop`: the connection is closed once the request arrived, before it is forwarded (no answer at all);
/// - `lost-reply`: forwarded (the server acts on it), then the connection is closed without the answer;
/// - `truncate`: forwarded; the answer's headers go out whole, its body half, then the connection closes;
/// - `short`: forwarded; the answer claims (Content-Length) and carries only half its body — a lie only
///   Lifeboat's own checks can catch.
/// An action `rule:METHOD:TEXT:ACTION` applies ACTION to every METHOD request whose path contains TEXT (e.g.
/// `rule:GET:/packs/:500`), leaving the others to the sequence.
/// Counts of what it did are in `counts` (so a test can show faults really happened).
public final class FaultProxy: Sendable {
    private let server: LoopbackScript

    public var folder: TemporaryDirectory { server.folder }
    public var port: Int { server.port }
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public init(upstream: S3Server, actions: [String]) async throws {
        server = try await LoopbackScript(prefix: "lifeboat-proxy", script: Self.script, what: "the fault proxy") { folder in
            [String(upstream.port), folder.file("counts.json")] + actions
        }
    }

    /// How often each action was taken so far.
    public var counts: [String: Int] {
        guard let data = FileManager.default.contents(atPath: folder.file("counts.json")),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Int] else { return [:] }
        return object
    }

    /// Requests that got a fault (everything but `ok`).
    public var faults: Int { counts.filter { $0.key != "ok" }.values.reduce(0, +) }

    static let script = #"""
        import http.client, http.server, json, os, socket, sys, threading
        port, upstream, counts_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
        rules = [a.split(':', 3)[1:] for a in sys.argv[4:] if a.startswith('rule:')]
        actions = [a for a in sys.argv[4:] if not a.startswith('rule:')] or ['ok']
        lock, state = threading.Lock(), {'n': 0, 'counts': {}}
        def take(method, path):
            with lock:
                ruled = [r[2] for r in rules if r[0] == method and r[1] in path]
                action = ruled[0] if ruled else actions[state['n'] % len(actions)]
                if not ruled:
                    state['n'] += 1
                state['counts'][action] = state['counts'].get(action, 0) + 1
                with open(counts_file + '.tmp', 'w') as out:
                    json.dump(state['counts'], out)
                os.replace(counts_file + '.tmp', counts_file)
                return action
        ERRORS = {'500': (500, 'InternalError'), '503': (503, 'ServiceUnavailable'), 'slowdown': (503, 'SlowDown')}
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'
            def handle_any(self):
                length = int(self.headers.get('Content-Length', 0) or 0)
                body = self.rfile.read(length) if length else b''
                action = take(self.command, self.path)
                if action in ERRORS:
                    status, code = ERRORS[action]
                    text = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected</Message></Error>' % code).encode()
                    self.send_response(status)
                    self.send_header('Content-Type', 'application/xml')
                    self.send_header('Content-Length', str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                    return
                if action == 'drop':
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                connection = http.client.HTTPConnection('127.0.0.1', upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ('connection', 'keep-alive')}
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                if action == 'lost-reply':
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                half = data[:len(data) // 2]
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() in ('content-length', 'connection', 'transfer-encoding', 'server', 'date'):
                        continue
                    self.send_header(name, value)
                if self.command == 'HEAD':
                    self.send_header('Content-Length', response.getheader('Content-Length', '0'))
                    self.end_headers()
                    return
                if action == 'short' and len(data) > 1:
                    self.send_header('Content-Length', str(len(half)))
                    self.end_headers()
                    self.wfile.write(half)
                    return
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                if action == 'truncate' and len(data) > 1:
                    self.wfile.write(half)
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(data)
            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
        server.daemon_threads = True
        server.serve_forever()
        """#
}
