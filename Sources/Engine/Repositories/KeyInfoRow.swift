import Foundation
import Repository

/// A repository key as listings show it (no secret in it).
public struct KeyInfoRow: Encodable, Sendable {
    public var id: String
    public var created: Date
    public var host: String
    public var user: String
    public var label: String?
    public var current: Bool

    public init(_ key: KeyInfo) {
        id = key.id
        created = key.created
        host = key.host
        user = key.user
        label = key.label
        current = key.current
    }
}
