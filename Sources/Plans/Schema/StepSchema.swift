/// The type a parameter's value must have.
public indirect enum ParameterType: Sendable, Hashable {
    /// Text; may hold `${env:…}` / `${file:…}` references.
    case string
    /// One of a fixed set of words.
    case choice([String])
    case integer(ClosedRange<Int>)
    case boolean
    case duration
    case byteSize
    /// The name of an inventory entry of this kind.
    case reference(InventoryKind)
    case list(ParameterType)
    /// A mapping from names to strings (e.g. environment variables, HTTP headers).
    case stringMap
    /// A mapping with known keys, each of its own type (e.g. `keep: {last: 7, daily: 14}`).
    case object([ParameterSpec])

    /// How the type reads in messages.
    public var summary: String {
        switch self {
        case .string: "a string"
        case .choice(let words): "one of " + words.joined(separator: ", ")
        case .integer(let range): "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .boolean: "true or false"
        case .duration: "a duration such as 90s, 15m or 1h30m"
        case .byteSize: "a size such as 512KiB, 16MiB or 1GB"
        case .reference(let kind): "the name of a \(kind.noun) from the inventory"
        case .list(let element): "a list of " + element.pluralSummary
        case .stringMap: "a mapping of names to strings"
        case .object(let fields): "a mapping with the keys " + fields.map(\.name).joined(separator: ", ")
        }
    }

    private var pluralSummary: String {
        switch self {
        case .string: "strings"
        case .reference(let kind): "\(kind.noun) names"
        default: "values (each \(summary))"
        }
    }
}

/// One parameter a step type (or inventory entry) accepts.
public struct ParameterSpec: Sendable, Hashable {
    public var name: String
    public var type: ParameterType
    public var required: Bool
    /// One line for `plan show` and docs.
    public var summary: String

    public init(_ name: String, _ type: ParameterType, required: Bool = false, _ summary: String = "") {
        self.name = name
        self.type = type
        self.required = required
        self.summary = summary
    }
}

/// The parameters a step type accepts in its `with:` block.
public struct StepSchema: Sendable, Hashable {
    /// The name used in `uses:`.
    public var name: String
    public var summary: String
    public var parameters: [ParameterSpec]
    /// An example `with:` block, shown in hints.
    public var example: String?

    public init(name: String, summary: String, parameters: [ParameterSpec], example: String? = nil) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.example = example
    }
}

/// The fields each kind of inventory entry accepts. Later capabilities extend these as they land.
public enum InventorySchemas {
    public static func fields(for kind: InventoryKind) -> [ParameterSpec] {
        switch kind {
        case .databases:
            [
                ParameterSpec("host", .string, "host name, address or unix socket directory"),
                ParameterSpec("port", .integer(1...65535)),
                ParameterSpec("user", .string),
                ParameterSpec("dbname", .string, required: true),
                ParameterSpec("password", .string, "use ${env:NAME} or ${file:PATH}"),
                ParameterSpec("sslmode", .choice(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])),
                ParameterSpec("rpo", .duration, "the RPO target the scheduler's RPO watch holds it to (default 1h)"),
                ParameterSpec("notify", .list(.string), "channels told when its RPO target is breached and recovered"),
            ]
        case .repositories:
            [
                ParameterSpec("location", .string, required: true, "a directory path, or s3://BUCKET/PREFIX"),
                ParameterSpec("passphrase", .string, "use ${env:NAME} or ${file:PATH}"),
                ParameterSpec("key_file", .string, "a key file from `lifeboat repo key export` (instead of a passphrase)"),
                ParameterSpec("s3", .object([
                    ParameterSpec("endpoint", .string, "e.g. https://minio.internal:9000 (default: AWS for the region)"),
                    ParameterSpec("region", .string, "default: AWS_REGION, else us-east-1"),
                    ParameterSpec("addressing", .choice(["path", "virtual"]), "default: virtual on AWS, path elsewhere"),
                    ParameterSpec("access_key_id", .string, "default: AWS_ACCESS_KEY_ID or the shared credentials file"),
                    ParameterSpec("secret_access_key", .string, "use ${env:NAME} or ${file:PATH}"),
                    ParameterSpec("session_token", .string, "use ${env:NAME} or ${file:PATH}"),
                    ParameterSpec("ca_bundle", .string, "a CA bundle to verify the endpoint with"),
                    ParameterSpec("part_size", .byteSize, "multipart upload part size (default 8MiB, at least 5MiB)"),
                    ParameterSpec("retries", .integer(0...50), "attempts after a failed request (default 8)"),
                ]), "how to reach an s3:// location (else the AWS_* environment variables)"),
            ]
        case .git:
            [
                ParameterSpec("source", .string, required: true, "URL or path of the repository to mirror"),
                ParameterSpec("mirrors", .list(.string), required: true,
                              "URLs or paths of the mirrors (https://user:${env:TOKEN}@…, ssh://, git://, a folder)"),
                ParameterSpec("include", .list(.string), "ref patterns to mirror (default all), e.g. refs/heads/*"),
                ParameterSpec("exclude", .list(.string), "ref patterns to leave out, e.g. refs/pull/*"),
                ParameterSpec("repository", .string, "a repository of the inventory to also keep encrypted bundles in"),
                ParameterSpec("preserve_for", .duration, "how long preserved old tips stay on the mirrors (default 90d)"),
            ]
        case .channels:
            [
                ParameterSpec("type", .choice(["webhook", "slack", "email", "pagerduty"]), required: true),
                ParameterSpec("url", .string, required: true,
                              "the endpoint (often a secret: ${env:…}); e-mail: smtp://host:587 (STARTTLS) or smtps://host:465"),
                ParameterSpec("headers", .stringMap, "webhook: extra HTTP headers"),
                ParameterSpec("secret", .string, "webhook: sign bodies with HMAC-SHA256 (X-Lifeboat-Signature)"),
                ParameterSpec("routing_key", .string, "pagerduty: the integration's routing key"),
                ParameterSpec("from", .string),
                ParameterSpec("to", .list(.string)),
                ParameterSpec("cc", .list(.string)),
                ParameterSpec("username", .string, "e-mail: SMTP login"),
                ParameterSpec("password", .string, "e-mail: SMTP password (${env:…} or ${file:…})"),
                ParameterSpec("starttls", .boolean, "e-mail over smtp://: require STARTTLS (default true)"),
                ParameterSpec("ca_file", .string, "a CA bundle to verify the server with"),
                ParameterSpec("required", .boolean, "the plan fails when this channel stays down (default false)"),
                ParameterSpec("timeout", .duration, "per attempt (default 15s)"),
                ParameterSpec("templates", .stringMap, "mustache templates by event name (or default) for the text"),
            ]
        }
    }
}
