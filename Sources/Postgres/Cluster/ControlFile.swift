import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `global/pg_control` of a data directory: its first field is the cluster's system identifier (u64, native byte
/// order), followed by `pg_control_version` (u32). `archive_command` runs in the data directory, so `wal push`
/// knows which cluster it archives for without being told.
public enum ControlFile {
    /// The system identifier in `dataDirectory/global/pg_control`; nil when the file cannot be read there.
    /// A file that exists but does not look like one is an error.
    public static func systemIdentifier(dataDirectory: String) throws -> String? {
        let path = dataDirectory + "/global/pg_control"
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            // Only "not there" means "not a data directory"; a control file that cannot be read is an error.
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw PostgresError(message: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 12)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, 12, 0) }
        guard count == 12 else { throw PostgresError(message: "\(path) is too short to be a pg_control file") }
        var identifier: UInt64 = 0
        for index in 0..<8 { identifier |= UInt64(bytes[index]) << (8 * index) }
        var version: UInt32 = 0
        for index in 0..<4 { version |= UInt32(bytes[8 + index]) << (8 * index) }
        guard identifier != 0, (900...9999).contains(version) else {
            throw PostgresError(message: "\(path) is not a PostgreSQL control file (version \(version))")
        }
        return String(identifier)
    }

    /// The data directory a WAL file PostgreSQL hands to `archive_command` (`%p`) belongs to: the parent of its
    /// `pg_wal` folder, else the current directory (where the archiver runs the command).
    public static func dataDirectory(ofWALFile path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        if (folder as NSString).lastPathComponent == "pg_wal" {
            let parent = (folder as NSString).deletingLastPathComponent
            return parent.isEmpty ? FileManager.default.currentDirectoryPath : parent
        }
        return FileManager.default.currentDirectoryPath
    }
}
