import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// Restore refuses a manifest whose paths could leave the folders it restores into.
extension Restore {
    /// Refuses a manifest whose paths could reach outside the restored folders: an absolute path, a `..` or empty
    /// component, a path listed twice, or a file whose parent is not a folder of the backup (e.g. below a link).
    static func checkPaths(_ manifest: BackupManifest) throws {
        var folders = Set<String>()
        var seen = Set<String>()
        for file in manifest.files {
            let key = file.archive + "\0" + BackupManifest.normalized(file.path)
            if let reason = BackupManifest.unsafePathReason(file.path) ?? (seen.insert(key).inserted ? nil : "listed twice") {
                throw RestoreError(description: "backup \(manifest.id) names a file '\(file.path)' (\(reason)); refusing to "
                    + "restore it, nothing was written", damaged: true)
            }
            if file.kind == "directory" { folders.insert(key) }
        }
        for file in manifest.files {
            let parent = BackupManifest.normalized(file.path).split(separator: "/").dropLast().joined(separator: "/")
            guard parent.isEmpty || folders.contains(file.archive + "\0" + parent) else {
                throw RestoreError(description: "backup \(manifest.id) names a file '\(file.path)' whose folder is not one of "
                    + "the backup's folders; refusing to restore it, nothing was written", damaged: true)
            }
        }
    }
}
