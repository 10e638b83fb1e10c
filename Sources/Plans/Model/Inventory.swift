/// The kinds of things an inventory defines, each by name, once.
public enum InventoryKind: String, Sendable, Hashable, Codable, CaseIterable {
    case databases
    case repositories
    case git
    case channels

    /// The singular noun for messages ("undefined database 'orders'").
    public var noun: String {
        switch self {
        case .databases: "database"
        case .repositories: "repository"
        case .git: "git source"
        case .channels: "notification channel"
        }
    }
}

/// One named definition in an inventory (a database, a repository, ...), its fields checked against its schema.
public struct InventoryEntry: Sendable, Hashable {
    public var kind: InventoryKind
    public var name: String
    public var fields: [String: ParameterValue]
    public var location: SourceLocation

    public init(kind: InventoryKind, name: String, fields: [String: ParameterValue], location: SourceLocation) {
        self.kind = kind
        self.name = name
        self.fields = fields
        self.location = location
    }
}

/// Shared definitions that plans refer to by name (`lifeboat.yaml` beside the plans, or the plan's `inventory:`).
public struct Inventory: Sendable, Hashable {
    /// The file it was read from; nil for the empty inventory of a plan that has none.
    public var file: String?
    public var entries: [InventoryKind: [String: InventoryEntry]]

    public init(file: String? = nil, entries: [InventoryKind: [String: InventoryEntry]] = [:]) {
        self.file = file
        self.entries = entries
    }

    public static let empty = Inventory()

    public func entry(_ kind: InventoryKind, _ name: String) -> InventoryEntry? {
        entries[kind]?[name]
    }

    public func names(_ kind: InventoryKind) -> [String] {
        (entries[kind] ?? [:]).keys.sorted()
    }
}
