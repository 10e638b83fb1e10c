import Foundation
import LifeboatCrypto

/// AWS Signature Version 4 for S3 requests (header-based).
struct S3Signer: Sendable {
    static let unsignedPayload = "UNSIGNED-PAYLOAD"
    static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    var credentials: S3Credentials
    var region: String
    var service = "s3"

    /// The headers to send (the given ones plus `x-amz-date`, `x-amz-content-sha256`, the session token and
    /// `Authorization`). `path` is the canonical (already encoded) path; `query` the decoded parameters.
    func sign(method: String, authority: String, path: String, query: [(String, String)],
              headers: [(name: String, value: String)], payloadHash: String, date: Date)
        -> [(name: String, value: String)] {
        let (amzDate, day) = Self.timestamps(date)
        var all = headers
        all.append(("x-amz-date", amzDate))
        all.append(("x-amz-content-sha256", payloadHash))
        if let token = credentials.sessionToken { all.append(("x-amz-security-token", token)) }
        var canonicalHeaders: [(String, String)] = all.map {
            ($0.name.lowercased(), $0.value.trimmingCharacters(in: .whitespaces))
        }
        canonicalHeaders.append(("host", authority))
        canonicalHeaders.sort { $0.0 < $1.0 }
        let signedHeaders = canonicalHeaders.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method,
            path,
            Self.canonicalQuery(query),
            canonicalHeaders.map { "\($0.0):\($0.1)\n" }.joined(),
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, SHA256.hexDigest(Array(canonicalRequest.utf8))]
            .joined(separator: "\n")
        var key = KeyedHash.hmacSHA256(key: Array(("AWS4" + credentials.secretAccessKey).utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = KeyedHash.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = Hex.encode(KeyedHash.hmacSHA256(key: key, Array(stringToSign.utf8)))
        let credential = "Credential=" + credentials.accessKeyId + "/" + scope
        let authorization = "AWS4-HMAC-SHA256 " + credential + ", SignedHeaders=" + signedHeaders + ", Signature=" + signature
        all.append(("Authorization", authorization))
        return all
    }

    static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(key: String, value: String)] = query.map { pair in
            (encode(pair.0, keepSlash: false), encode(pair.1, keepSlash: false))
        }
        let sorted = encoded.sorted { left, right in
            left.key == right.key ? left.value < right.value : left.key < right.key
        }
        return sorted.map { $0.key + "=" + $0.value }.joined(separator: "&")
    }

    /// RFC 3986 percent-encoding of everything but unreserved characters (and `/` in paths), as SigV4 wants.
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// `20130524T000000Z` and `20130524` for `date`, in UTC.
    static func timestamps(_ date: Date) -> (String, String) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let day = String(format: "%04d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday)
        return (day + String(format: "T%02d%02d%02dZ", parts.tm_hour, parts.tm_min, parts.tm_sec), day)
    }
}
