internal import CLibCrypto

/// SHA-256 through libcrypto (OpenSSL 3).
public enum SHA256 {
    /// The 32-byte SHA-256 digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                EVP_Digest(
                    input.baseAddress, input.count,
                    output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length,
                    EVP_sha256(), nil
                )
            }
        }
        // EVP_Digest with EVP_sha256 fails only when the library is broken (allocation failure).
        precondition(ok == 1 && length == 32, "libcrypto failed to compute SHA-256")
        return out
    }

    /// The SHA-256 digest of `bytes` as 64 lowercase hexadecimal characters.
    public static func hexDigest(_ bytes: [UInt8]) -> String {
        digest(bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// The cryptography library this build runs with.
public enum CryptoLibrary {
    /// OpenSSL's version text, e.g. `OpenSSL 3.0.19 27 Jan 2026`.
    public static var openSSL: String { String(cString: OpenSSL_version(Int32(OPENSSL_VERSION))) }
}
