import Foundation
import LifeboatHTTP
import Synchronization
import LifeboatCrypto

/// A large object written piece by piece: kept in memory up to one part, then sent as a multipart upload whose
/// parts go up in parallel while the writer goes on. `commit` completes the upload only when every part was
/// stored and confirmed, and then checks the object's size; any failure aborts the upload, leaving nothing.
final class S3Upload: ObjectUpload {
    private struct State: Sendable {
        var buffer: [UInt8] = []
        var uploadId: String?
        var nextPart = 1
        var etags: [Int: String] = [:]
        var firstError: RepositoryError?
        var total = 0
        var finished = false
    }

    private let store: S3Store
    private let path: String
    private let storedAt: Date?
    private let state = Mutex(State())
    private let parts = DispatchGroup()

    init(store: S3Store, path: String, storedAt: Date? = nil) {
        self.store = store
        self.path = path
        self.storedAt = storedAt
    }

    private var key: String { store.key(path) }

    func append(_ bytes: [UInt8]) throws(RepositoryError) {
        let partSize = store.client.target.partSize
        let full: [[UInt8]] = try state.withLock { state throws(RepositoryError) in
            if let error = state.firstError { throw error }
            state.buffer += bytes
            state.total += bytes.count
            var full: [[UInt8]] = []
            while state.buffer.count >= partSize {
                full.append(Array(state.buffer[..<partSize]))
                state.buffer.removeFirst(partSize)
            }
            return full
        }
        for part in full { try send(part) }
    }

    func commit() throws(RepositoryError) {
        let (started, rest) = state.withLock { state in
            defer { state.buffer = [] }
            return (state.uploadId != nil, state.buffer)
        }
        do throws(RepositoryError) {
            guard started else {
                _ = try store.put(path, rest, createNew: false)
                state.withLock { $0.finished = true }
                return
            }
            if !rest.isEmpty { try send(rest) }
            parts.wait()
            try complete()
        } catch {
            abort()
            throw error
        }
    }

    func abort() {
        parts.wait()
        let uploadId = state.withLock { state -> String? in
            defer { state.uploadId = nil }
            return state.finished ? nil : state.uploadId
        }
        guard let uploadId else { return }
        let key = key
        _ = try? store.client.send("DELETE", key: key, query: [("uploadId", uploadId)]) { response, _ throws(RepositoryError) -> S3Client.Outcome<Void> in
            .done(())
        }
    }

    /// Starts the multipart upload on first use, then hands the part to the part threads (waiting for a slot).
    private func send(_ part: [UInt8]) throws(RepositoryError) {
        let uploadId = try startIfNeeded()
        let number = state.withLock { state in
            defer { state.nextPart += 1 }
            return state.nextPart
        }
        store.partSlots.wait()
        parts.enter()
        store.partQueue.async { [self] in
            defer {
                store.partSlots.signal()
                parts.leave()
            }
            do {
                let etag = try uploadPart(part, number: number, uploadId: uploadId)
                state.withLock { $0.etags[number] = etag }
            } catch let error as RepositoryError {
                state.withLock { if $0.firstError == nil { $0.firstError = error } }
            } catch {
                state.withLock { if $0.firstError == nil { $0.firstError = RepositoryError(.io, "\(error)") } }
            }
        }
    }

    private func startIfNeeded() throws(RepositoryError) -> String {
        if let id = state.withLock({ $0.uploadId }) { return id }
        let key = key
        let id = try store.client.send("POST", key: key, query: [("uploads", "")],
                                       headers: [("Content-Type", "application/octet-stream"),
                                                 ("x-amz-meta-lifeboat-stored", String(Int64((storedAt ?? Date()).timeIntervalSince1970 * 1000)))]) { response, _ throws(RepositoryError) -> S3Client.Outcome<String> in
            guard response.status == 200 else { throw store.client.failure("CREATE MULTIPART", key, response) }
            let document = S3XML(response.body)
            guard document.complete, let id = document.fields["UploadId"], !id.isEmpty else {
                return .retry("the answer names no upload id")
            }
            return .done(id)
        }
        state.withLock { $0.uploadId = id }
        return id
    }

    private func uploadPart(_ part: [UInt8], number: Int, uploadId: String) throws(RepositoryError) -> String {
        let md5 = MD5.digest(part)
        let key = key
        return try store.client.send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadId)],
                                     headers: [("Content-MD5", Data(md5).base64EncodedString())], body: part) { response, _ throws(RepositoryError) -> S3Client.Outcome<String> in
            guard response.status == 200 else { throw store.client.failure("UPLOAD PART \(number)", key, response) }
            guard let etag = response.headers["etag"] else { return .retry("part \(number) got no ETag") }
            if let plain = S3Store.plainETag(etag), plain != Hex.encode(md5) {
                return .retry("part \(number)'s ETag \(plain) does not match the \(part.count) bytes sent (\(Hex.encode(md5)))")
            }
            return .done(etag)
        }
    }

    private func complete() throws(RepositoryError) {
        let (uploadId, etags, total, error) = state.withLock { ($0.uploadId!, $0.etags, $0.total, $0.firstError) }
        if let error { throw error }
        let body = "<CompleteMultipartUpload>" + etags.keys.sorted().map {
            "<Part><PartNumber>\($0)</PartNumber><ETag>\(S3XML.escape(etags[$0]!))</ETag></Part>"
        }.joined() + "</CompleteMultipartUpload>"
        let key = key
        try store.client.send("POST", key: key, query: [("uploadId", uploadId)],
                              headers: [("Content-Type", "application/xml")], body: Array(body.utf8)) { response, attempt throws(RepositoryError) -> S3Client.Outcome<Void> in
            let error = S3XML.error(response.body)
            // A lost answer to an earlier attempt that did complete: the upload is gone and the object is there.
            if attempt > 0, error?.code == "NoSuchUpload", try store.size(path) == total { return .done(()) }
            // S3 may answer 200 and report an error in the body.
            if let error, ["InternalError", "SlowDown", "ServiceUnavailable"].contains(error.code) {
                return .retry("\(error.code) while completing")
            }
            guard response.status == 200, error == nil else { throw store.client.failure("COMPLETE MULTIPART", key, response) }
            return .done(())
        }
        state.withLock { $0.finished = true }
        guard let stored = try store.size(path), stored == total else {
            throw RepositoryError(.io, "S3 object \(store.client.display(key)) holds a different size than the \(total) bytes uploaded")
        }
    }
}
