internal import CLinux
import Foundation

/// Whole-file-system flushes: one `syncfs` makes everything written below a path durable, far cheaper than an
/// `fsync` per file when a backup writes thousands of chunks or a restore thousands of files.
public enum FileSystemSync {
    public static func syncAll(_ path: String) throws(RepositoryError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileStore.ioError("cannot open \(path)") }
        defer { close(descriptor) }
        guard lb_syncfs(descriptor) == 0 else { throw FileStore.ioError("cannot sync the file system of \(path)") }
    }
}
