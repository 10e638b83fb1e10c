internal import CLibCrypto

/// AES-256-GCM with a 12-byte nonce and a 16-byte tag, through OpenSSL's EVP interface.
public enum AESGCM {
    public static let keySize = 32
    public static let nonceSize = 12
    public static let tagSize = 16

    /// Encrypts `plaintext`; returns ciphertext followed by the tag.
    public static func seal(key: [UInt8], nonce: [UInt8], plaintext: UnsafeRawBufferPointer,
                            associatedData: [UInt8]) -> [UInt8] {
        precondition(key.count == keySize && nonce.count == nonceSize)
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        var ok = EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil)
        ok &= EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceSize), nil)
        ok &= EVP_EncryptInit_ex(context, nil, nil, key, nonce)
        var length: Int32 = 0
        if !associatedData.isEmpty {
            ok &= EVP_EncryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count))
        }
        var written = 0
        // Uninitialized: every byte is written below (ciphertext, then tag).
        let output = [UInt8](unsafeUninitializedCapacity: plaintext.count + tagSize) { out, count in
            // EVP lengths are Int32: feed large inputs in slices.
            var offset = 0
            while offset < plaintext.count {
                let slice = min(plaintext.count - offset, 1 << 30)
                ok &= EVP_EncryptUpdate(context, out.baseAddress! + written, &length,
                                        plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, Int32(slice))
                written += Int(length)
                offset += slice
            }
            ok &= EVP_EncryptFinal_ex(context, out.baseAddress! + written, &length)
            written += Int(length)
            ok &= EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), out.baseAddress! + written)
            count = plaintext.count + tagSize
        }
        precondition(ok == 1 && written == plaintext.count, "OpenSSL AES-256-GCM encryption failed")
        return output
    }

    /// Decrypts ciphertext-and-tag; nil when authentication fails (wrong key, changed bytes, other associated data).
    public static func open(key: [UInt8], nonce: [UInt8], sealed: UnsafeRawBufferPointer,
                            associatedData: [UInt8]) -> [UInt8]? {
        guard key.count == keySize, nonce.count == nonceSize, sealed.count >= tagSize else { return nil }
        let context = EVP_CIPHER_CTX_new()!
        defer { EVP_CIPHER_CTX_free(context) }
        let cipherCount = sealed.count - tagSize
        let bytes = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var ok = EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil)
        ok &= EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceSize), nil)
        ok &= EVP_DecryptInit_ex(context, nil, nil, key, nonce)
        var length: Int32 = 0
        if !associatedData.isEmpty {
            ok &= EVP_DecryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count))
        }
        var written = 0
        let output = [UInt8](unsafeUninitializedCapacity: max(cipherCount, 1)) { out, count in
            var offset = 0
            while offset < cipherCount {
                let slice = min(cipherCount - offset, 1 << 30)
                ok &= EVP_DecryptUpdate(context, out.baseAddress! + written, &length, bytes + offset, Int32(slice))
                written += Int(length)
                offset += slice
            }
            // SET_TAG takes a non-const pointer: give it a copy.
            var tag = Array(UnsafeBufferPointer(start: bytes + cipherCount, count: tagSize))
            ok &= EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), &tag)
            if ok == 1 {
                ok &= EVP_DecryptFinal_ex(context, out.baseAddress! + written, &length) > 0 ? 1 : 0
            }
            count = ok == 1 ? cipherCount : 0
        }
        ERR_clear_error()
        guard ok == 1 else { return nil }
        return output
    }
}

/// HMAC-SHA256 and key derivation.
public enum KeyedHash {
    /// HMAC-SHA256 of `data` under `key`.
    public static func hmacSHA256(key: [UInt8], _ data: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        var empty: UInt8 = 0
        let result = out.withUnsafeMutableBufferPointer { output in
            withUnsafePointer(to: &empty) { emptyPointer in
                HMAC(EVP_sha256(), key, Int32(key.count),
                     data.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer,
                     data.count, output.baseAddress, &length)
            }
        }
        precondition(result != nil && length == 32, "OpenSSL HMAC-SHA256 failed")
        return out
    }

    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { hmacSHA256(key: key, $0) }
    }

    /// A subkey for one purpose, derived from a master key (HMAC-SHA256 with the purpose as message).
    public static func derive(_ master: [UInt8], purpose: String) -> [UInt8] {
        hmacSHA256(key: master, Array(purpose.utf8))
    }

    /// scrypt (RFC 7914) through OpenSSL. nil when the parameters are refused (e.g. too much memory).
    public static func scrypt(passphrase: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64) -> [UInt8]? {
        var key = [UInt8](repeating: 0, count: 32)
        let maxMemory = UInt64(128) * r * n * p + (UInt64(1) << 26)
        let ok = passphrase.withUnsafeBufferPointer { pass in
            pass.withMemoryRebound(to: CChar.self) { passChars in
                EVP_PBE_scrypt(passChars.baseAddress, pass.count, salt, salt.count, n, r, p, maxMemory, &key, key.count)
            }
        }
        ERR_clear_error()
        return ok == 1 ? key : nil
    }
}
