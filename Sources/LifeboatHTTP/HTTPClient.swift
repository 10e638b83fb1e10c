import Foundation
import Synchronization
internal import CCurl
import LifeboatCore

/// An HTTP request for `HTTPClient`.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whole-transfer and connect time limits.
    public var timeout: TimeInterval
    public var connectTimeout: TimeInterval
    /// A CA bundle to verify servers with (default: the system's). TLS verification is always on.
    public var caFile: String?
    /// A transfer slower than `lowSpeedBytes` per second for `lowSpeedSeconds` is abandoned (0: no limit).
    public var lowSpeedBytes = 0
    public var lowSpeedSeconds = 0

    public init(method: String = "POST", url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                timeout: TimeInterval = 30, connectTimeout: TimeInterval = 10, caFile: String? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.caFile = caFile
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A transfer that did not produce a response (connection refused, timeout, TLS failure).
public struct HTTPError: LifeboatFailure, Sendable {
    public var description: String
    public var message: String { description }
    public var code: ErrorCode { .runFailed }
    /// True when waiting longer could help (timeouts, refused or reset connections).
    public var transient: Bool

    public init(description: String, transient: Bool) {
        self.description = description
        self.transient = transient
    }
}

/// A small blocking HTTP client over libcurl. Call it from a thread of its own (not the concurrency pool).
public enum HTTPClient {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// One request on a connection of its own.
    public static func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        guard initialized, let handle = curl_easy_init() else {
            throw HTTPError(description: "libcurl could not be initialised", transient: false)
        }
        defer { curl_easy_cleanup(handle) }
        return try perform(request, on: handle)
    }

    static func perform(_ request: HTTPRequest, on handle: UnsafeMutableRawPointer) throws(HTTPError) -> HTTPResponse {
        let sink = ResponseSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in request.headers { headerList = curl_slist_append(headerList, "\(header.name): \(header.value)") }
        headerList = curl_slist_append(headerList, "Expect:")

        _ = lb_curl_setopt_str(handle, CURLOPT_URL, request.url)
        _ = lb_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = lb_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        _ = lb_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        if request.lowSpeedBytes > 0 && request.lowSpeedSeconds > 0 {
            _ = lb_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, request.lowSpeedBytes)
            _ = lb_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, request.lowSpeedSeconds)
        }
        _ = lb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        _ = lb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = request.caFile { _ = lb_curl_setopt_str(handle, CURLOPT_CAINFO, caFile) }
        _ = lb_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        switch request.method {
        case "HEAD":
            _ = lb_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
        case "GET":
            _ = lb_curl_setopt_long(handle, CURLOPT_HTTPGET, 1)
        case "DELETE" where request.body.isEmpty:
            _ = lb_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method)
        default:
            // The body is streamed from the caller's bytes through the read callback (no copy, binary-safe).
            sink.upload = request.body
            if request.method == "PUT" {
                _ = lb_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                _ = lb_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.count))
            } else {
                _ = lb_curl_setopt_long(handle, CURLOPT_POST, 1)
                _ = lb_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
                if request.method != "POST" { _ = lb_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method) }
            }
            _ = lb_curl_setopt_read_cb(handle) { buffer, size, count, context in
                guard let buffer, let context else { return 0 }
                let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
                let amount = min(size * count, sink.upload.count - sink.uploaded)
                if amount > 0 {
                    sink.upload.withUnsafeBytes { bytes in
                        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + sink.uploaded, byteCount: amount)
                    }
                }
                sink.uploaded += amount
                return amount
            }
            _ = lb_curl_setopt_ptr(handle, CURLOPT_READDATA, Unmanaged.passUnretained(sink).toOpaque())
        }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        _ = lb_curl_setopt_write_cb(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        _ = lb_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context)
        _ = lb_curl_setopt_header_cb(handle) { data, size, count, context in
            guard let data, let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self)
            if line.hasPrefix("HTTP/") { sink.headers = [:] }
            if let colon = line.firstIndex(of: ":") {
                sink.headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return size * count
        }
        _ = lb_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context)

        let code = withExtendedLifetime(sink) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            let permanent = [CURLE_SSL_CACERT_BADFILE, CURLE_PEER_FAILED_VERIFICATION, CURLE_URL_MALFORMAT,
                             CURLE_SSL_CERTPROBLEM].contains(code)
            throw HTTPError(description: String(cString: curl_easy_strerror(code)), transient: !permanent)
        }
        var status = 0
        _ = lb_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }
}

/// Blocking HTTP requests that reuse connections: each request borrows an idle libcurl handle (which keeps its
/// connection open) from a small pool, so many small requests to one server do not each pay a TCP and TLS set-up.
/// Safe to call from many threads at once.
public final class HTTPSession: Sendable {
    private struct Handles: @unchecked Sendable {
        var idle: [UnsafeMutableRawPointer] = []
    }

    private let pool = Mutex(Handles())
    private let maximumIdle: Int

    public init(maximumIdle: Int = 16) {
        self.maximumIdle = maximumIdle
    }

    deinit {
        pool.withLock { $0.idle.forEach { curl_easy_cleanup($0) } }
    }

    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        guard HTTPClient.initialized else {
            throw HTTPError(description: "libcurl could not be initialised", transient: false)
        }
        let borrowed = pool.withLock { $0.idle.popLast() }
        guard let handle = borrowed ?? curl_easy_init() else {
            throw HTTPError(description: "libcurl could not be initialised", transient: false)
        }
        curl_easy_reset(handle)
        do {
            let response = try HTTPClient.perform(request, on: handle)
            giveBack(handle)
            return response
        } catch {
            // A failed transfer may leave its connection in any state: do not reuse it.
            curl_easy_cleanup(handle)
            throw error
        }
    }

    private func giveBack(_ handle: UnsafeMutableRawPointer) {
        let kept = pool.withLock { handles in
            guard handles.idle.count < maximumIdle else { return false }
            handles.idle.append(handle)
            return true
        }
        if !kept { curl_easy_cleanup(handle) }
    }
}

/// Collects a response inside libcurl's callbacks (one transfer, one thread).
final class ResponseSink {
    var upload: [UInt8] = []
    var uploaded = 0
    var body: [UInt8] = []
    var headers: [String: String] = [:]
}
