import Foundation

/// `keys/<id>`: the repository's master key, wrapped (AES-256-GCM) by a key derived from one passphrase with scrypt.
/// Several key files may wrap the same master key; each opens the repository.
struct WrappedKey: Codable, Sendable {
    var version = 1
    var kdf = "scrypt"
    /// scrypt cost parameters, stored so that they can be raised later without breaking old keys.
    var n: UInt64
    var r: UInt64
    var p: UInt64
    var salt: String
    var nonce: String
    /// The sealed master key.
    var wrapped: String
    var created: Date
    var host: String
    var user: String
    var label: String?
    /// `KeyCheck.value` of the master key (absent in slots written before key checks).
    var check: String?
    /// SHA-256 of the slot's content (`canonicalText`), and its HMAC under the master key (both absent in older slots).
    var checksum: String?
    var seal: String?
}

/// A key file exported with `repo key export`: the master key itself, for unattended use (`archive_command`),
/// where deriving a key from a passphrase for every WAL segment would be too slow. Keep it `0600`.
struct ExportedKey: Codable, Sendable {
    var lifeboatKey = 1
    var repository: String
    var master: String
    /// `KeyCheck.value` of `master` (absent in files exported before key checks).
    var check: String?

    enum CodingKeys: String, CodingKey {
        case lifeboatKey = "lifeboat_key", repository, master, check
    }
}

/// The repository's public settings (`config`, plaintext): enough to know what the folder is without a key.
public struct RepositoryConfig: Codable, Sendable, Equatable {
    public var format: Int
    public var id: String
    public var created: Date
    /// Files are cut into chunks of this size (a multiple of PostgreSQL's 8 KiB page).
    public var chunkSize: Int
    public var compressionLevel: Int

    enum CodingKeys: String, CodingKey {
        case format = "lifeboat_repository", id, created
        case chunkSize = "chunk_size", compressionLevel = "compression_level"
    }
}

/// A key as `repo key list` shows it.
public struct KeyInfo: Codable, Sendable, Equatable {
    public var id: String
    public var created: Date
    public var host: String
    public var user: String
    public var label: String?
    /// Whether this is the key that opened the repository now.
    public var current: Bool
    /// Why the slot is damaged (it may no longer open with its passphrase), or nil when it is sound.
    public var damage: String?
}

enum RepositoryJSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        // Encoding these plain structs cannot fail.
        Array(try! encoder.encode(value)) + [10]
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], what: String) throws(RepositoryError) -> T {
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw RepositoryError(.damaged, "\(what) is damaged: \(reason(error))")
        }
    }

    /// A decoding failure in a few words (which field, what is wrong), without the decoder's internals.
    static func reason(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).filter { !$0.isEmpty }
            return keys.isEmpty ? "" : " (at \(keys.joined(separator: ".")))"
        }
        switch error {
        case DecodingError.dataCorrupted(let context): return "it is not valid JSON or holds an invalid value" + path(context)
        case DecodingError.keyNotFound(let key, let context): return "field \(key.stringValue) is missing" + path(context)
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "a field has the wrong type" + path(context)
        default: return "it cannot be decoded"
        }
    }
}
