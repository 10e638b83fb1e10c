import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// `--delta`: what the destination holds and the backup does not is removed before the restore writes.
extension Restore {
    /// With `delta`: removes what the destination has and the backup does not (stale relation files, WAL,
    /// `recovery.signal` from an earlier restore).
    static func removeExtraneous(_ manifest: BackupManifest, roots: [String: String]) throws {
        for (archive, root) in roots {
            let wanted = Set(manifest.files.filter { $0.archive == archive }.map { BackupManifest.normalized($0.path) })
            // Children before their folders; links (pg_tblspc) are removed, never followed. What cannot be removed
            // stops the restore: a stale file left in place would be taken for part of the backup.
            for path in try walk(root).sorted(by: { $0.count > $1.count }) where !wanted.contains(path) {
                let full = root + "/" + path
                var info = stat()
                guard lstat(full, &info) == 0 else {
                    if errno == ENOENT { continue }
                    throw RestoreError(description: "cannot look at \(full): \(String(cString: strerror(errno)))", damaged: false)
                }
                let removed = info.st_mode & S_IFMT == S_IFDIR ? rmdir(full) : unlink(full)
                guard removed == 0 || errno == ENOENT else {
                    throw RestoreError(description: "cannot remove \(full), which the backup does not have: "
                        + String(cString: strerror(errno)), damaged: false)
                }
            }
        }
    }

    /// Relative paths below `root`, descending only into real folders (not through symbolic links).
    static func walk(_ root: String, _ prefix: String = "") throws -> [String] {
        var result: [String] = []
        let folder = prefix.isEmpty ? root : root + "/" + prefix
        let names: [String]
        do {
            names = try LocalBackup.listFolder(folder) ?? []
        } catch {
            throw RestoreError(description: "\(error)", damaged: false)
        }
        for name in names {
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            result.append(relative)
            var info = stat()
            if lstat(root + "/" + relative, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                result += try walk(root, relative)
            }
        }
        return result
    }
}
