import Foundation

/// A typed value from a step's `with:` block or an inventory entry, already checked against its schema.
public indirect enum ParameterValue: Sendable, Hashable {
    case string(TemplateString)
    case integer(Int)
    case boolean(Bool)
    case duration(PlanDuration)
    case byteSize(ByteSize)
    /// The name of an inventory entry of the given kind (checked to exist).
    case reference(InventoryKind, String)
    case list([ParameterValue])
    /// Keys in the order they were written.
    case map([MapEntry])

    public struct MapEntry: Sendable, Hashable {
        public var key: String
        public var value: ParameterValue
        public init(key: String, value: ParameterValue) {
            self.key = key
            self.value = value
        }
    }

    public var stringValue: TemplateString? { if case .string(let value) = self { value } else { nil } }
    public var integerValue: Int? { if case .integer(let value) = self { value } else { nil } }
    public var booleanValue: Bool? { if case .boolean(let value) = self { value } else { nil } }
    public var durationValue: PlanDuration? { if case .duration(let value) = self { value } else { nil } }
    public var listValue: [ParameterValue]? { if case .list(let value) = self { value } else { nil } }
    public var mapValue: [MapEntry]? { if case .map(let value) = self { value } else { nil } }
    public var referenceName: String? { if case .reference(_, let name) = self { name } else { nil } }

    /// The value under `key` of a mapping.
    public subscript(key: String) -> ParameterValue? {
        mapValue?.first { $0.key == key }?.value
    }

    /// Every secret reference inside this value.
    public var secretReferences: [SecretReference] {
        switch self {
        case .string(let text): text.references
        case .list(let items): items.flatMap(\.secretReferences)
        case .map(let entries): entries.flatMap(\.value.secretReferences)
        default: []
        }
    }
}

extension ParameterValue: CustomStringConvertible {
    /// A one-line rendering in YAML flow style; secrets appear as references, never as values.
    public var description: String {
        switch self {
        case .string(let text): Self.quoteIfNeeded(text.description)
        case .integer(let number): String(number)
        case .boolean(let flag): String(flag)
        case .duration(let duration): duration.description
        case .byteSize(let size): size.description
        case .reference(_, let name): name
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let entries): "{" + entries.map { "\($0.key): \($0.value.description)" }.joined(separator: ", ") + "}"
        }
    }

    private static func quoteIfNeeded(_ text: String) -> String {
        let plain = !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "-_./:@${}=+".contains($0) }
            && !text.hasPrefix("$") || text.hasPrefix("${")
        if plain && !text.contains(" ") && !text.contains(",") { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

extension ParameterValue: Encodable {
    /// JSON: strings (secrets as references), numbers, booleans, durations and sizes as text, lists, objects.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .string(let text):
            var container = encoder.singleValueContainer()
            try container.encode(text.description)
        case .integer(let number):
            var container = encoder.singleValueContainer()
            try container.encode(number)
        case .boolean(let flag):
            var container = encoder.singleValueContainer()
            try container.encode(flag)
        case .duration(let duration):
            try duration.encode(to: encoder)
        case .byteSize(let size):
            try size.encode(to: encoder)
        case .reference(_, let name):
            var container = encoder.singleValueContainer()
            try container.encode(name)
        case .list(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .map(let entries):
            var container = encoder.container(keyedBy: DynamicKey.self)
            for entry in entries { try container.encode(entry.value, forKey: DynamicKey(entry.key)) }
        }
    }
}

struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
