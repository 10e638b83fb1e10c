import LifeboatCore
/// Where a secret comes from. Plans hold references, never values.
public enum SecretReference: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `${env:NAME}`: an environment variable of the process running the step.
    case environment(String)
    /// `${file:PATH}`: the contents of a file (one trailing newline removed).
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): "${env:\(name)}"
        case .file(let path): "${file:\(path)}"
        }
    }
}

/// A string from a plan that may contain secret references, e.g. `postgres://app:${env:PGPASSWORD}@db/app`.
///
/// Its `description` shows the references, not their values: it is safe to print, log and store.
/// The values are read only when a step runs (see `Engine.SecretResolver`).
public struct TemplateString: Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public enum Segment: Sendable, Hashable, Codable {
        case literal(String)
        case secret(SecretReference)
    }

    public var segments: [Segment]

    public init(segments: [Segment]) { self.segments = segments }
    public init(stringLiteral value: String) { segments = value.isEmpty ? [] : [.literal(value)] }

    /// The secret references this string holds.
    public var references: [SecretReference] {
        segments.compactMap { if case .secret(let reference) = $0 { reference } else { nil } }
    }

    /// The text when it holds no secret; nil otherwise.
    public var literalValue: String? {
        references.isEmpty ? description : nil
    }

    public var description: String {
        segments.map { segment in
            switch segment {
            case .literal(let text): text.replacingDollarEscapes
            case .secret(let reference): reference.description
            }
        }.joined()
    }

    public struct ParseError: LifeboatFailure, Sendable {
        public var message: String
        public var hint: String?
        public var code: ErrorCode { .invalidInput }
        public var description: String { message }
    }

    /// Parses `${env:NAME}` and `${file:PATH}` references; `$${` writes a literal `${`.
    public init(parsing text: String) throws(ParseError) {
        var segments: [Segment] = []
        var literal = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            literal += rest[..<dollar]
            let afterDollar = rest[rest.index(after: dollar)...]
            if afterDollar.hasPrefix("${") {
                literal += "${"
                rest = afterDollar.dropFirst(2)
                continue
            }
            guard afterDollar.hasPrefix("{") else {
                literal += "$"
                rest = afterDollar
                continue
            }
            guard let close = afterDollar.firstIndex(of: "}") else {
                throw ParseError(message: "unterminated reference '\(rest.prefix(30))'",
                                 hint: "write ${env:NAME} or ${file:PATH}; write $${ for a literal ${")
            }
            let body = afterDollar[afterDollar.index(after: afterDollar.startIndex)..<close]
            let reference: SecretReference
            if body.hasPrefix("env:") {
                let name = String(body.dropFirst(4))
                guard Self.isEnvironmentName(name) else {
                    throw ParseError(message: "'\(name)' is not a valid environment variable name in ${\(body)}",
                                     hint: "names are letters, digits and _, not starting with a digit")
                }
                reference = .environment(name)
            } else if body.hasPrefix("file:") {
                let path = String(body.dropFirst(5))
                guard !path.isEmpty else {
                    throw ParseError(message: "${file:} needs a path", hint: "e.g. ${file:/etc/lifeboat/passphrase}")
                }
                reference = .file(path)
            } else {
                throw ParseError(message: "unknown reference '${\(body)}'",
                                 hint: "secrets are written ${env:NAME} or ${file:PATH}; write $${ for a literal ${")
            }
            if !literal.isEmpty { segments.append(.literal(literal)) }
            literal = ""
            segments.append(.secret(reference))
            rest = afterDollar[afterDollar.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { segments.append(.literal(literal)) }
        self.segments = segments
    }

    /// Builds the final text, asking `lookup` for each secret.
    public func resolve<E: Error>(_ lookup: (SecretReference) throws(E) -> String) throws(E) -> String {
        var text = ""
        for segment in segments {
            switch segment {
            case .literal(let literal): text += literal
            case .secret(let reference): text += try lookup(reference)
            }
        }
        return text
    }

    private static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || $0.decimalDigit != nil)) }
    }
}

extension String {
    /// A literal `${` is shown as `$${` so that the description parses back to the same value.
    fileprivate var replacingDollarEscapes: String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: "${") {
            result += rest[..<range.lowerBound] + "$${"
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
