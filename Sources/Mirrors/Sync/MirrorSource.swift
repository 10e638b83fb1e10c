import Foundation

/// One repository to mirror: where it comes from, where its copies go, which refs count.
public struct MirrorSource: Sendable {
    public var name: String
    public var url: String
    public var destinations: [String]
    /// Shell patterns of refs to mirror (all when empty) and to leave out.
    public var include: [String]
    public var exclude: [String]
    /// Preserved old tips older than this are deleted from the mirrors.
    public var preserveFor: TimeInterval

    public init(name: String, url: String, destinations: [String], include: [String] = [], exclude: [String] = [],
                preserveFor: TimeInterval = 90 * 86_400) {
        self.name = name
        self.url = url
        self.destinations = destinations
        self.include = include
        self.exclude = exclude
        self.preserveFor = preserveFor
    }

    /// The local mirror cache of this source below `root`.
    public func cache(in root: String) -> String {
        root + "/" + name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" } + ".git"
    }
}

/// An old tip kept on a mirror before its ref was deleted or moved to a commit that does not contain it.
public struct PreservedRef: Sendable, Codable, Equatable {
    public var ref: String
    public var preservedAs: String
    public var sha: String
    /// `deleted` or `force-pushed`.
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case ref, sha, reason
        case preservedAs = "preserved_as"
    }
}

/// What one sync did to one mirror.
public struct DestinationResult: Sendable, Codable {
    /// The mirror's URL without credentials.
    public var destination: String
    public var refsChanged: Int
    public var preserved: [PreservedRef]
    public var expired: Int
    public var bytes: Int64
    public var seconds: Double
    public var error: String?

    public var succeeded: Bool { error == nil }

    enum CodingKeys: String, CodingKey {
        case destination, preserved, expired, bytes, seconds, error
        case refsChanged = "refs_changed"
    }
}

/// What one sync of one source did.
public struct SourceResult: Sendable, Codable {
    public var source: String
    public var refs: Int
    public var seconds: Double
    /// Fetching the source failed: nothing was pushed.
    public var error: String?
    public var destinations: [DestinationResult]

    public var succeeded: Bool { error == nil && destinations.allSatisfy(\.succeeded) }
}
