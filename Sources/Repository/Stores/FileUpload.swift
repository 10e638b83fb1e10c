import Foundation
import Synchronization
import LifeboatCrypto
#if canImport(Glibc)
import Glibc
#endif

/// A file written piece by piece under a temporary name in its folder, renamed to its name on `commit`. It is not
/// synced here: `FileStore.makeDurable` syncs the whole file system once for many files.
final class FileUpload: ObjectUpload {
    private let temporary: String
    private let target: String
    private let descriptor: Int32
    /// Until `commit` or `abort` closes the file.
    private let open = Mutex(true)

    init(store: FileStore, path: String) throws(RepositoryError) {
        target = store.path(path)
        let folder = (target as NSString).deletingLastPathComponent
        try store.makeFolder(folder)
        temporary = folder + "/.tmp-" + SecureRandom.hex(8)
        descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileStore.ioError("cannot create \(temporary)") }
        store.adopt(descriptor: descriptor)
    }

    /// Closes the file once; false when it was closed before.
    private func close() -> Bool {
        open.withLock { isOpen in
            defer { isOpen = false }
            if isOpen { Glibc.close(descriptor) }
            return isOpen
        }
    }

    func append(_ bytes: [UInt8]) throws(RepositoryError) {
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + done, $0.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw FileStore.ioError("cannot write \(temporary)") }
            done += count
        }
    }

    func commit() throws(RepositoryError) {
        guard close() else { throw RepositoryError(.io, "\(target) was already completed or abandoned") }
        guard rename(temporary, target) == 0 else {
            let error = FileStore.ioError("cannot rename \(temporary) to \(target)")
            unlink(temporary)
            throw error
        }
    }

    func abort() {
        if close() { unlink(temporary) }
    }
}

/// The repository lock of a folder repository: an `flock` on `locks/repository`, released by the kernel when its
/// process ends however it ends, so a dead process never leaves a stale lock behind.
final class FileLock: StoreLock {
    private let descriptor: Int32

    private init(descriptor: Int32) { self.descriptor = descriptor }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    static func acquire(_ store: FileStore, _ mode: RepositoryLock.Mode, timeout: TimeInterval) throws(RepositoryError)
        -> FileLock {
        let folder = store.path("locks")
        try store.makeFolder(folder)
        let path = folder + "/repository"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileStore.ioError("cannot open lock \(path)") }
        store.adopt(descriptor: descriptor)
        let operation = (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB
        let deadline = Date().addingTimeInterval(timeout)
        while flock(descriptor, operation) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                close(descriptor)
                throw FileStore.ioError("cannot lock \(path)")
            }
            guard Date() < deadline else {
                close(descriptor)
                throw RepositoryLock.conflict(mode)
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return FileLock(descriptor: descriptor)
    }
}
