import Foundation
import LifeboatCrypto

/// Bounds on the scrypt parameters read from a key slot: a crafted or damaged slot must not make key derivation
/// trap or exhaust memory. 128·r·N·p bytes are needed; these bounds allow up to 1 GiB.
enum ScryptBounds {
    static let maxN: UInt64 = 1 << 22
    static let maxR: UInt64 = 32
    static let maxP: UInt64 = 16
    static let maxMemory: UInt64 = 1 << 30

    /// Why the parameters are refused, or nil when they are acceptable.
    static func problem(n: UInt64, r: UInt64, p: UInt64) -> String? {
        guard n >= 2, n <= maxN, n & (n - 1) == 0 else { return "scrypt N=\(n) is not a power of two up to 2^22" }
        guard (1...maxR).contains(r), (1...maxP).contains(p) else { return "scrypt r=\(r) p=\(p) is out of bounds" }
        guard 128 * r * n * p <= maxMemory else { return "scrypt N=\(n) r=\(r) p=\(p) needs more than 1 GiB" }
        return nil
    }
}

/// The key check value: an HMAC under the master key of a fixed label and the repository id. Stored in every key
/// slot and in exported key files, it proves that a master key is this repository's before anything is written
/// with it (a key file with one wrong digit would otherwise seal WAL nobody can read).
enum KeyCheck {
    static func value(master: [UInt8], repositoryId: String) -> String {
        Hex.encode(KeyedHash.hmacSHA256(key: master, Array("lifeboat key check v1\0\(repositoryId)".utf8)))
    }
}

extension WrappedKey {
    /// The fields that decide what the slot opens, length-prefixed so that no two slots share a text.
    var canonicalText: [UInt8] {
        let fields = [kdf, String(n), String(r), String(p), salt, nonce, wrapped, check ?? "",
                      String(Int64(created.timeIntervalSince1970.rounded(.down))), host, user, label ?? ""]
        return Array(("lifeboat key slot v1\n" + fields.map { "\($0.utf8.count):\($0)\n" }.joined()).utf8)
    }

    /// SHA-256 of `canonicalText`: finds accidental damage without any key.
    var computedChecksum: String { SHA256.hexDigest(canonicalText) }

    /// HMAC of `canonicalText` under a key derived from the master key: finds any change once the key is known.
    func computedSeal(master: [UInt8]) -> String {
        Hex.encode(KeyedHash.hmacSHA256(key: KeyedHash.derive(master, purpose: "lifeboat v1 key slot seal"), canonicalText))
    }

    /// Why the slot is damaged as far as can be told without a key, or nil.
    var damageWithoutKey: String? {
        if let problem = ScryptBounds.problem(n: n, r: r, p: p) { return problem }
        if kdf != "scrypt" { return "unknown key derivation \(kdf)" }
        if let checksum, checksum != computedChecksum { return "its checksum does not match its content" }
        return nil
    }
}

/// One key slot as read from `keys/<id>`, or why it could not be read.
struct ReadSlot {
    var id: String
    var key: WrappedKey?
    /// Why the slot is damaged (unreadable, undecodable, checksum or seal mismatch), or nil.
    var damage: String?
}
