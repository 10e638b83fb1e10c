import LifeboatCore
import Foundation

/// How to reach an S3-compatible bucket. Every field is optional: what the inventory leaves out comes from the
/// location's query (`s3://bucket/prefix?endpoint=…&region=…&addressing=path`), then from the standard `AWS_*`
/// environment variables and the shared credentials file, then from defaults (AWS, us-east-1).
public struct S3Settings: Sendable, Equatable {
    public enum Addressing: String, Sendable {
        /// `https://endpoint/bucket/key` (MinIO, Ceph, Garage and most servers that are not AWS).
        case path
        /// `https://bucket.endpoint/key` (AWS).
        case virtual
    }

    public var endpoint: String?
    public var region: String?
    public var addressing: Addressing?
    public var accessKeyId: String?
    public var secretAccessKey: String?
    public var sessionToken: String?
    /// A CA bundle to verify the endpoint's certificate with (TLS verification is always on).
    public var caBundle: String?
    /// Multipart uploads send parts of this size (at least 5 MiB, as S3 requires).
    public var partSize: Int?
    /// How often a failed request is tried again (connection errors, timeouts, 5xx, 429, SlowDown).
    public var retries: Int?

    public init(endpoint: String? = nil, region: String? = nil, addressing: Addressing? = nil,
                accessKeyId: String? = nil, secretAccessKey: String? = nil, sessionToken: String? = nil,
                caBundle: String? = nil, partSize: Int? = nil, retries: Int? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.addressing = addressing
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.caBundle = caBundle
        self.partSize = partSize
        self.retries = retries
    }
}

/// Everything an `S3Store` needs, resolved: where the bucket is and who signs.
struct S3Target: Sendable {
    var bucket: String
    /// Key prefix ending in `/`, or empty.
    var prefix: String
    var scheme: String
    /// `host` or `host:port`, as in the endpoint.
    var authority: String
    var region: String
    var addressing: S3Settings.Addressing
    var credentials: S3Credentials
    var caBundle: String?
    var partSize: Int
    var retries: Int

    static let defaultPartSize = 8 << 20
    static let minimumPartSize = 5 << 20

    /// Resolves `location` (`s3://BUCKET[/PREFIX][?endpoint=…&region=…&addressing=…&ca_bundle=…]`).
    init(location: String, settings: S3Settings, environment: [String: String]) throws(RepositoryError) {
        guard let components = URLComponents(string: location), components.scheme == "s3",
              let bucket = components.host, !bucket.isEmpty else {
            throw RepositoryError(.refused, "cannot read S3 location '\(S3Target.redacted(location))'",
                                  hint: "write it as s3://BUCKET/PREFIX")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard ["endpoint", "region", "addressing", "ca_bundle"].contains(item.name) else {
                throw RepositoryError(.refused, "S3 location option '\(item.name)' is unknown (known: endpoint, region, addressing, ca_bundle)",
                                      hint: "credentials never go into a location: use the inventory's s3 settings or AWS_* variables")
            }
            query[item.name] = item.value ?? ""
        }
        func env(_ names: String...) -> String? {
            names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        self.bucket = bucket
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        prefix = path.isEmpty ? "" : path + "/"
        region = settings.region ?? query["region"] ?? env("AWS_REGION", "AWS_DEFAULT_REGION") ?? "us-east-1"
        let endpointText = settings.endpoint ?? query["endpoint"] ?? env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        let endpoint = endpointText ?? "https://s3.\(region).amazonaws.com"
        guard let parsed = URLComponents(string: endpoint), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
              let host = parsed.host, !host.isEmpty else {
            throw RepositoryError(.refused, "S3 endpoint '\(endpoint)' is not an http(s) URL")
        }
        self.scheme = scheme
        authority = parsed.port.map { "\(host):\($0)" } ?? host
        let addressingText = settings.addressing?.rawValue ?? query["addressing"]
        if let addressingText {
            guard let chosen = S3Settings.Addressing(rawValue: addressingText) else {
                throw RepositoryError(.refused, "S3 addressing '\(addressingText)' is neither path nor virtual")
            }
            addressing = chosen
        } else {
            // AWS wants virtual-hosted names; other servers (and bucket names with dots) work best path-style.
            addressing = endpointText == nil && !bucket.contains(".") ? .virtual : .path
        }
        caBundle = settings.caBundle ?? query["ca_bundle"] ?? env("AWS_CA_BUNDLE")
        partSize = max(Self.minimumPartSize, settings.partSize ?? Self.defaultPartSize)
        retries = max(0, settings.retries ?? env(EnvironmentVariable.s3Retries.name).flatMap(Int.init) ?? 8)
        credentials = try S3Credentials.resolve(settings: settings, environment: environment, location: location)
    }

    /// The location without its query (for messages).
    static func redacted(_ location: String) -> String {
        location.split(separator: "?", maxSplits: 1).first.map(String.init) ?? location
    }
}

/// Who signs the requests. The secret never appears in a message, a log or a description.
struct S3Credentials: Sendable, CustomStringConvertible {
    var accessKeyId: String
    var secretAccessKey: String
    var sessionToken: String?

    var description: String { "S3 credentials for access key \(accessKeyId)" }

    static func resolve(settings: S3Settings, environment: [String: String], location: String)
        throws(RepositoryError) -> S3Credentials {
        if let id = settings.accessKeyId, let secret = settings.secretAccessKey {
            return S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: settings.sessionToken)
        }
        if let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"],
           !id.isEmpty, !secret.isEmpty {
            return S3Credentials(accessKeyId: id, secretAccessKey: secret,
                                 sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let file = environment["AWS_SHARED_CREDENTIALS_FILE"]
            ?? environment["HOME"].map { $0 + "/.aws/credentials" }
        let profile = environment["AWS_PROFILE"] ?? "default"
        if let file, let text = try? String(contentsOfFile: file, encoding: .utf8),
           let found = sharedFileCredentials(text, profile: profile) {
            return found
        }
        throw RepositoryError(.refused, "no S3 credentials for \(S3Target.redacted(location))",
                              hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give the repository access_key_id and "
                                  + "secret_access_key in the inventory, or use a shared credentials file (AWS_SHARED_CREDENTIALS_FILE)")
    }

    /// The profile's keys from an AWS shared credentials file (INI: `[profile]`, `aws_access_key_id = …`).
    static func sharedFileCredentials(_ text: String, profile: String) -> S3Credentials? {
        var current = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard current == profile, let equals = line.firstIndex(of: "=") else { continue }
            values[line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        guard let id = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else { return nil }
        return S3Credentials(accessKeyId: id, secretAccessKey: secret, sessionToken: values["aws_session_token"])
    }
}
