import Foundation
internal import CCurl

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

    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// A transfer that did not produce a response (connection refused, timeout, TLS failure).
public struct HTTPError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// True when waiting longer could help (timeouts, refused or reset connections).
    public var transient: Bool
}

/// A small blocking HTTP client over libcurl. Call it from a thread of its own (not the concurrency pool).
public enum HTTPClient {
    static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    public static func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        guard initialized, let handle = curl_easy_init() else {
            throw HTTPError(description: "libcurl could not be initialised", transient: false)
        }
        defer { curl_easy_cleanup(handle) }
        let sink = ResponseSink()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for header in request.headers { headerList = curl_slist_append(headerList, "\(header.name): \(header.value)") }
        headerList = curl_slist_append(headerList, "Expect:")

        _ = lb_curl_setopt_str(handle, CURLOPT_URL, request.url)
        _ = lb_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = lb_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        _ = lb_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(request.connectTimeout * 1000))
        _ = lb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        _ = lb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = request.caFile { _ = lb_curl_setopt_str(handle, CURLOPT_CAINFO, caFile) }
        _ = lb_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)
        if request.method == "POST" || !request.body.isEmpty {
            _ = lb_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            _ = request.body.withUnsafeBytes { lb_curl_setopt_ptr(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
        }
        if request.method != "POST" && request.method != "GET" {
            _ = lb_curl_setopt_str(handle, CURLOPT_CUSTOMREQUEST, request.method)
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
            let transient = [CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
                             CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE].contains(code)
            throw HTTPError(description: String(cString: curl_easy_strerror(code)), transient: transient)
        }
        var status = 0
        _ = lb_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }
}

/// Collects a response inside libcurl's callbacks (one transfer, one thread).
final class ResponseSink {
    var body: [UInt8] = []
    var headers: [String: String] = [:]
}
