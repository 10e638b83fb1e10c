internal import CLibCrypto

/// MD5 through libcrypto, only for what S3 asks of uploads (Content-MD5) and returns as ETags. Not for security.
public enum MD5 {
    public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBytes { output in
            EVP_Digest(bytes.baseAddress, bytes.count, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length,
                       EVP_md5(), nil)
        }
        precondition(ok == 1 && length == 16, "libcrypto failed to compute MD5")
        return out
    }

    public static func digest(_ bytes: [UInt8]) -> [UInt8] { bytes.withUnsafeBytes { digest($0) } }
}
