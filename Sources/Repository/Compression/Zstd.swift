internal import CZstd
import Synchronization

/// zstd compression of whole objects (chunks, WAL segments, manifests).
///
/// Contexts are expensive to create (tables sized for the level's window) and cheap to reuse, so compression and
/// decompression contexts are kept in small pools shared by the worker threads.
public enum Zstd {
    /// A pooled context pointer. `ZSTD_CCtx`/`ZSTD_DCtx` are used by one thread at a time (taken from the pool,
    /// used, returned), which is what makes handing them between threads sound.
    private struct Context: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private static let compressors = Mutex<[Context]>([])
    private static let decompressors = Mutex<[Context]>([])
    private static let poolLimit = 16

    /// Compresses at `level` (1-19); the frame records the content size for decompression.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32) -> [UInt8] {
        let context = compressors.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createCCtx())
        defer { compressors.withLock { if $0.count < poolLimit { $0.append(context) } else { ZSTD_freeCCtx(context.pointer) } } }
        let bound = ZSTD_compressBound(input.count)
        return [UInt8](unsafeUninitializedCapacity: bound) { buffer, count in
            let written = ZSTD_compressCCtx(context.pointer, buffer.baseAddress, bound, input.baseAddress, input.count, level)
            precondition(ZSTD_isError(written) == 0, "zstd compression failed: \(String(cString: ZSTD_getErrorName(written)))")
            count = written
        }
    }

    /// Decompresses one frame whose content size is recorded; nil when the data is not a valid frame or is larger
    /// than `limit`.
    public static func decompress(_ input: UnsafeRawBufferPointer, limit: Int) -> [UInt8]? {
        let size = ZSTD_getFrameContentSize(input.baseAddress, input.count)
        guard size != ZSTD_CONTENTSIZE_UNKNOWN, size != ZSTD_CONTENTSIZE_ERROR, size <= UInt64(limit) else { return nil }
        let context = decompressors.withLock { $0.popLast() } ?? Context(pointer: ZSTD_createDCtx())
        defer { decompressors.withLock { if $0.count < poolLimit { $0.append(context) } else { ZSTD_freeDCtx(context.pointer) } } }
        var ok = true
        let output = [UInt8](unsafeUninitializedCapacity: Int(size)) { buffer, count in
            let written = ZSTD_decompressDCtx(context.pointer, buffer.baseAddress, Int(size), input.baseAddress, input.count)
            ok = ZSTD_isError(written) == 0 && written == Int(size)
            count = ok ? written : 0
        }
        return ok ? output : nil
    }
}
