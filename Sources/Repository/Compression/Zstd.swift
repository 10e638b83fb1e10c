internal import CZstd

/// zstd compression of whole objects (chunks, WAL segments, manifests).
public enum Zstd {
    /// Compresses at `level` (1-19); the frame records the content size for decompression.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_compress(out.baseAddress, bound, input.baseAddress, input.count, level)
        }
        precondition(ZSTD_isError(written) == 0, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
        output.removeLast(bound - written)
        return output
    }

    /// Decompresses one frame whose content size is recorded; nil when the data is not a valid frame or is larger
    /// than `limit`.
    public static func decompress(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard size != ZSTD_CONTENTSIZE_UNKNOWN, size != ZSTD_CONTENTSIZE_ERROR, size <= UInt64(limit) else { return nil }
        var output = [UInt8](repeating: 0, count: Int(size))
        let written = output.withUnsafeMutableBytes { out in
            ZSTD_decompress(out.baseAddress, Int(size), input.baseAddress, input.count)
        }
        guard ZSTD_isError(written) == 0, written == Int(size) else { return nil }
        return output
    }
}
