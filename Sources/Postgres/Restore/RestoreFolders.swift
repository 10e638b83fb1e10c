import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// The folders a restore writes into: new or empty (or, with `--delta`, an older copy), owned by the server's user.
extension Restore {
    static func prepareFolder(_ path: String, delta: Bool, owner: (uid: uid_t, gid: gid_t)?, mode: mode_t) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else {
                throw RestoreError(description: "\(path) is not a folder", damaged: false, invalidInput: true)
            }
            let contents: [String]
            do {
                contents = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw RestoreError(description: "cannot list \(path): \(error.localizedDescription)", damaged: false)
            }
            if delta && contents.contains("postmaster.pid") {
                throw RestoreError(description: "\(path) has a postmaster.pid: stop the server running on it first",
                                   damaged: false)
            }
            guard contents.isEmpty || delta else {
                throw RestoreError(description: "\(path) is not empty; restore writes only into an empty or new folder",
                                   damaged: false, invalidInput: true)
            }
            chmod(path, mode)
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: mode])
            // The new folder's entry in its parent is made durable with everything restored into it.
            let parent = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if parent >= 0 {
                defer { close(parent) }
                guard fsync(parent) == 0 else {
                    throw RestoreError(description: "cannot fsync the folder above \(path): \(String(cString: strerror(errno)))",
                                       damaged: false)
                }
            }
        }
        try chown(path, owner)
    }

    static func chown(_ path: String, _ owner: (uid: uid_t, gid: gid_t)?) throws {
        guard let owner else { return }
        guard lchown(path, owner.uid, owner.gid) == 0 else {
            throw RestoreError(description: "cannot give \(path) to uid \(owner.uid): \(String(cString: strerror(errno)))",
                               damaged: false)
        }
    }
}
