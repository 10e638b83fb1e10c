import Foundation
import LifeboatHTTP
import Synchronization

/// Signed requests to one bucket, tried again with exponential backoff and full jitter when the failure is one
/// that waiting can cure: connection errors, timeouts, 5xx, 429, `SlowDown`, and answers that fail Lifeboat's own
/// checks (a body shorter than announced, a checksum that does not match).
final class S3Client: Sendable {
    /// What a request's caller makes of an answer.
    enum Outcome<T: Sendable>: Sendable {
        case done(T)
        /// Worth another attempt (a damaged transfer); the text says what was wrong.
        case retry(String)
    }

    /// Requests sent, by method, and how many were attempts after a failure (for reports and benchmarks).
    struct Statistics: Sendable, Codable, Equatable {
        var requests: [String: Int] = [:]
        var retries = 0
        var bytesSent: Int64 = 0
        var bytesReceived: Int64 = 0

        var total: Int { requests.values.reduce(0, +) }
    }

    let target: S3Target
    private let session = HTTPSession()
    private let signer: S3Signer
    private let counters = Mutex(Statistics())
    static let backoffBase = 0.1
    static let backoffCap = 8.0

    init(target: S3Target) {
        self.target = target
        signer = S3Signer(credentials: target.credentials, region: target.region)
    }

    var statistics: Statistics { counters.withLock { $0 } }

    /// `s3://bucket/key` for messages.
    func display(_ key: String) -> String { "s3://\(target.bucket)/\(key)" }

    /// Sends a request, trying again while the failure is transient, and hands each answer that is not a
    /// transient failure to `interpret`.
    func send<T: Sendable>(_ method: String, key: String?, query: [(String, String)] = [],
                           headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                           interpret: (HTTPResponse, _ attempt: Int) throws(RepositoryError) -> Outcome<T>)
        throws(RepositoryError) -> T {
        let (url, authority, path) = address(key: key, query: query)
        var attempt = 0
        var lastProblem = ""
        while true {
            if attempt > 0 {
                counters.withLock { $0.retries += 1 }
            }
            var request = HTTPRequest(method: method, url: url, body: body, timeout: 900, connectTimeout: 10,
                                      caFile: target.caBundle)
            request.lowSpeedBytes = 1024
            request.lowSpeedSeconds = 30
            request.headers = signer.sign(method: method, authority: authority, path: path, query: query,
                                          headers: headers, payloadHash: S3Signer.unsignedPayload, date: Date())
            counters.withLock {
                $0.requests[method, default: 0] += 1
                $0.bytesSent += Int64(body.count)
            }
            var retryAfter: Double?
            let answer: HTTPResponse?
            do {
                answer = try session.send(request)
            } catch {
                guard error.transient else {
                    throw RepositoryError(.io, "S3 \(method) \(display(key ?? "")) failed: \(error.description)",
                                          hint: target.scheme == "https" ? "check the endpoint and its certificate (ca_bundle)" : nil)
                }
                lastProblem = error.description
                answer = nil
            }
            if let response = answer {
                counters.withLock { $0.bytesReceived += Int64(response.body.count) }
                // Only failures carry error documents (a 200's body may be a chunk of binary data).
                let error = response.status >= 300 ? S3XML.error(response.body) : nil
                if Self.isTransient(response.status, code: error?.code) {
                    lastProblem = "\(response.status) \(error?.code ?? "")".trimmingCharacters(in: .whitespaces)
                    retryAfter = response.headers["retry-after"].flatMap(Double.init)
                } else {
                    switch try interpret(response, attempt) {
                    case .done(let value): return value
                    case .retry(let problem): lastProblem = problem
                    }
                }
            }
            guard attempt < target.retries else {
                throw RepositoryError(.io, "S3 \(method) \(display(key ?? "")) failed after \(attempt + 1) attempts: \(lastProblem)",
                                      hint: "the object store is unreachable or failing; the operation can be run again")
            }
            attempt += 1
            let ceiling = min(Self.backoffCap, Self.backoffBase * pow(2, Double(attempt - 1)))
            Thread.sleep(forTimeInterval: max(Double.random(in: 0...ceiling), min(retryAfter ?? 0, 30)))
        }
    }

    static func isTransient(_ status: Int, code: String?) -> Bool {
        if [500, 502, 503, 504, 429].contains(status) { return true }
        guard status >= 400, let code else { return false }
        return ["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"].contains(code)
    }

    /// The error for an answer the caller did not expect.
    func failure(_ method: String, _ key: String?, _ response: HTTPResponse) -> RepositoryError {
        let error = S3XML.error(response.body)
        let what = "S3 \(method) \(display(key ?? ""))"
        let detail = error.map { "\($0.code)\($0.message.isEmpty ? "" : ": \($0.message)")" } ?? "HTTP \(response.status)"
        switch error?.code ?? "" {
        case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
            return RepositoryError(.refused, "\(what) was refused: \(detail)",
                                   hint: "check the access key, secret key and region of the repository")
        case "NoSuchBucket":
            return RepositoryError(.notInitialised, "S3 bucket \(target.bucket) does not exist (\(what))",
                                   hint: "`lifeboat repo init` creates it, or check the bucket name and endpoint")
        default:
            return RepositoryError(.io, "\(what) failed: \(detail)")
        }
    }

    /// The URL, the host to sign and the canonical path of a key (nil: the bucket itself).
    func address(key: String?, query: [(String, String)]) -> (url: String, authority: String, path: String) {
        let encodedKey = key.map { S3Signer.encode($0, keepSlash: true) } ?? ""
        let authority: String
        let path: String
        switch target.addressing {
        case .path:
            authority = target.authority
            path = "/" + S3Signer.encode(target.bucket, keepSlash: false) + (key == nil ? "" : "/" + encodedKey)
        case .virtual:
            authority = target.bucket + "." + target.authority
            path = "/" + encodedKey
        }
        let queryText = S3Signer.canonicalQuery(query)
        return ("\(target.scheme)://\(authority)\(path)\(queryText.isEmpty ? "" : "?" + queryText)", authority, path)
    }
}
