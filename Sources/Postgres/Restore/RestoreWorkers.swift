import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// The parallel fetch-and-write of file contents: every file created at its length, then filled chunk by chunk.
extension Restore {
    /// Creates an empty file with the backup's mode and owner, at its final length (chunks are written into it).
    static func create(_ file: BackupManifest.File, root: String, owner: (uid: uid_t, gid: gid_t)?,
                       delta: Bool) throws {
        let path = root + "/" + file.path
        var flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW
        if delta {
            var info = stat()
            if lstat(path, &info) == 0 {
                if info.st_mode & S_IFMT == S_IFREG {
                    flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW
                    chmod(path, mode_t(file.mode & 0o7777))
                } else {
                    // An older copy holds a folder or a link where the backup has a file: it goes, or the restore stops.
                    do {
                        try FileManager.default.removeItem(atPath: path)
                    } catch {
                        throw RestoreError(description: "cannot replace \(path) with the backup's file: "
                            + error.localizedDescription, damaged: false)
                    }
                }
            }
        }
        let descriptor = open(path, flags, mode_t(file.mode & 0o7777))
        guard descriptor >= 0 else {
            throw RestoreError(description: "cannot create \(path): \(String(cString: strerror(errno)))", damaged: false)
        }
        defer { close(descriptor) }
        if let owner { fchown(descriptor, owner.uid, owner.gid) }
        guard ftruncate(descriptor, off_t(file.size)) == 0 else {
            throw RestoreError(description: "cannot size \(path): \(String(cString: strerror(errno)))", damaged: false)
        }
    }

    /// Fetches one chunk (authenticated, keyed hash checked), checks its length against the manifest, and writes it
    /// at its offset. Returns the bytes written.
    static func writeChunk(_ index: Int, of file: BackupManifest.File, descriptor: Int32,
                                   repository: BackupRepository, manifest: BackupManifest, delta: Bool)
        throws -> (written: Int, reused: Int) {
        let offset = Int64(index) * Int64(manifest.chunkSize)
        let expected = Int(min(Int64(manifest.chunkSize), file.size - offset))
        if delta, let existing = readRange(descriptor, offset: offset, count: expected),
           existing.withUnsafeBytes({ repository.chunkId($0) }) == file.chunks[index] {
            return (0, expected)
        }
        let plaintext: [UInt8]
        do {
            plaintext = try repository.chunk(file.chunks[index])
        } catch {
            throw RestoreError(description: "backup \(manifest.id), file \(file.path): \(error.message); "
                + "the restore was stopped and the target is incomplete", damaged: true)
        }
        guard plaintext.count == expected else {
            throw RestoreError(description: "backup \(manifest.id), file \(file.path): chunk \(index) holds "
                + "\(plaintext.count) bytes, the manifest needs \(expected); the restore was stopped", damaged: true)
        }
        var done = 0
        while done < plaintext.count {
            let count = plaintext.withUnsafeBytes {
                pwrite(descriptor, $0.baseAddress! + done, $0.count - done, off_t(offset) + off_t(done))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw RestoreError(description: "cannot write \(file.path): \(String(cString: strerror(errno)))",
                                   damaged: false)
            }
            done += count
        }
        return (plaintext.count, 0)
    }

    /// `count` bytes at `offset` of an existing file, or nil when it is shorter.
    static func readRange(_ descriptor: Int32, offset: Int64, count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            done += got
        }
        return buffer
    }
}
