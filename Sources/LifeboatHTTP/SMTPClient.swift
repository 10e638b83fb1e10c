import Foundation
internal import CCurl

/// An e-mail for `SMTPClient`: the envelope and the message as RFC 5322 text (headers, blank line, body).
public struct SMTPMessage: Sendable {
    /// `smtp://host:port` (with `requireTLS`: STARTTLS, refused without it) or `smtps://host:port` (TLS from the start).
    public var url: String
    public var requireTLS: Bool
    public var username: String?
    public var password: String?
    public var from: String
    /// Every recipient (To and Cc).
    public var recipients: [String]
    public var message: [UInt8]
    public var timeout: TimeInterval
    public var caFile: String?

    public init(url: String, requireTLS: Bool, username: String? = nil, password: String? = nil, from: String,
                recipients: [String], message: [UInt8], timeout: TimeInterval = 30, caFile: String? = nil) {
        self.url = url
        self.requireTLS = requireTLS
        self.username = username
        self.password = password
        self.from = from
        self.recipients = recipients
        self.message = message
        self.timeout = timeout
        self.caFile = caFile
    }
}

/// Sends e-mail through libcurl's SMTP support (blocking; call it from a thread of its own).
public enum SMTPClient {
    public static func send(_ message: SMTPMessage) throws(HTTPError) {
        guard HTTPClient.initialized, let handle = curl_easy_init() else {
            throw HTTPError(description: "libcurl could not be initialised", transient: false)
        }
        defer { curl_easy_cleanup(handle) }
        var recipients: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(recipients) }
        for recipient in message.recipients { recipients = curl_slist_append(recipients, "<\(recipient)>") }
        _ = lb_curl_setopt_str(handle, CURLOPT_URL, message.url)
        _ = lb_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        _ = lb_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(message.timeout * 1000))
        _ = lb_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        _ = lb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        _ = lb_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = message.caFile { _ = lb_curl_setopt_str(handle, CURLOPT_CAINFO, caFile) }
        if message.requireTLS { _ = lb_curl_require_tls(handle) }
        if let username = message.username { _ = lb_curl_setopt_str(handle, CURLOPT_USERNAME, username) }
        if let password = message.password { _ = lb_curl_setopt_str(handle, CURLOPT_PASSWORD, password) }
        _ = lb_curl_setopt_str(handle, CURLOPT_MAIL_FROM, "<\(message.from)>")
        _ = lb_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipients)
        _ = lb_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
        let source = UploadSource(message.message)
        _ = lb_curl_setopt_read_cb(handle) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            return Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue().read(into: buffer, capacity: size * count)
        }
        _ = lb_curl_setopt_ptr(handle, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque())
        let code = withExtendedLifetime(source) { curl_easy_perform(handle) }
        guard code == CURLE_OK else {
            let transient = [CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
                             CURLE_GOT_NOTHING].contains(code)
            throw HTTPError(description: "SMTP: " + String(cString: curl_easy_strerror(code)), transient: transient)
        }
    }
}

/// Hands a message to libcurl's read callback piece by piece.
final class UploadSource {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let count = min(capacity, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}
