import Foundation

/// Git's smart HTTP protocol (`git http-backend`) on a loopback port, for the bare repositories below `root`,
/// behind HTTP basic authentication with one user and password: a mirror that needs credentials.
public final class GitHTTPServer: Sendable {
    private let server: LoopbackScript
    public var port: Int { server.port }

    public init(root: String, user: String, password: String) async throws {
        server = try await LoopbackScript(prefix: "lifeboat-githttp", script: Self.script, what: "the git HTTP server") { _ in
            [root, user, password]
        }
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT/PATH`.
    public func url(_ path: String, user: String, password: String) -> String {
        "http://\(user):\(password)@127.0.0.1:\(port)/\(path)"
    }

    static let script = #"""
        import base64, http.server, os, subprocess, sys
        port, root, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
        expected = 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.0'
            def handle_any(self):
                if self.headers.get('Authorization') != expected:
                    self.send_response(401)
                    self.send_header('WWW-Authenticate', 'Basic realm="git"')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else b''
                path, _, query = self.path.partition('?')
                env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL='1', PATH_INFO=path, QUERY_STRING=query,
                           REQUEST_METHOD=self.command, CONTENT_TYPE=self.headers.get('Content-Type', ''),
                           CONTENT_LENGTH=str(len(body)), REMOTE_USER=user, REMOTE_ADDR='127.0.0.1')
                if self.headers.get('Content-Encoding'):
                    env['HTTP_CONTENT_ENCODING'] = self.headers['Content-Encoding']
                if self.headers.get('Git-Protocol'):
                    env['GIT_PROTOCOL'] = self.headers['Git-Protocol']
                out = subprocess.run(['git', 'http-backend'], input=body, env=env, capture_output=True).stdout
                separator = b'\r\n\r\n' if b'\r\n\r\n' in out else b'\n\n'
                head, _, rest = out.partition(separator)
                status, headers = 200, []
                for line in head.replace(b'\r\n', b'\n').split(b'\n'):
                    key, _, value = line.decode().partition(':')
                    if key.lower() == 'status':
                        status = int(value.strip().split()[0])
                    elif key:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header('Content-Length', str(len(rest)))
                self.end_headers()
                self.wfile.write(rest)
            do_GET = do_POST = handle_any
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler).serve_forever()
        """#
}
