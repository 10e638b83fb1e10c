import Foundation
import LifeboatHTTP
import LifeboatCrypto

/// A repository in an S3-compatible bucket (`s3://BUCKET/PREFIX`): AWS, MinIO, Ceph, R2, Garage, …
///
/// Every answer is checked before it is believed: uploads carry Content-MD5 (the server refuses a body that
/// arrives damaged) and the returned ETag must match; whole-object reads must match their ETag's MD5 and ranged
/// reads their Content-Range. A transfer that fails these checks is tried again; one that keeps failing is an
/// error, never a short object.
public final class S3Store: ObjectStore {
    public let location: String
    let client: S3Client

    public var preferredConcurrency: Int { 8 }

    /// Parts of multipart uploads go up on these threads, at most `partSlots` at a time (bounded memory).
    let partQueue = DispatchQueue(label: "lifeboat.s3.parts", attributes: .concurrent)
    let partSlots = DispatchSemaphore(value: 4)
    /// Recently read windows of packs (16 MiB at most).
    let windows = S3ReadWindows(capacity: 16)

    /// Objects smaller than this go up in one PUT; larger ones (and pack uploads that outgrow one part) in parts.
    var multipartThreshold: Int { client.target.partSize }

    public init(location: String, settings: S3Settings = S3Settings(),
                environment: [String: String] = ProcessInfo.processInfo.environment) throws(RepositoryError) {
        self.location = location
        client = S3Client(target: try S3Target(location: location, settings: settings, environment: environment))
    }

    /// Requests sent so far by this store (for `--json` reports and the benchmark).
    public var requestCount: Int { client.statistics.total }
    public var retryCount: Int { client.statistics.retries }

    func key(_ path: String) -> String { client.target.prefix + path }

    // MARK: - Reading

    public func read(_ path: String) throws(RepositoryError) -> [UInt8]? {
        let key = key(path)
        return try client.send("GET", key: key) { response, _ throws(RepositoryError) -> S3Client.Outcome<[UInt8]?> in
            if response.status == 404 { return .done(nil) }
            guard response.status == 200 else { throw client.failure("GET", key, response) }
            if let length = response.headers["content-length"].flatMap(Int.init), length != response.body.count {
                return .retry("got \(response.body.count) of \(length) bytes")
            }
            // ETags are the MD5 of single-PUT objects, except under SSE-KMS or SSE-C.
            if response.headers["x-amz-server-side-encryption"] != "aws:kms",
               response.headers["x-amz-server-side-encryption-customer-algorithm"] == nil,
               let etag = Self.plainETag(response.headers["etag"]), Hex.encode(MD5.digest(response.body)) != etag {
                return .retry("the body does not match its ETag")
            }
            return .done(response.body)
        }
    }

    public func read(_ path: String, offset: Int, count: Int) throws(RepositoryError) -> [UInt8]? {
        guard count > 0 else { return try exists(path) ? [] : nil }
        // Chunks in packs are read through windows (see S3ReadWindows); other objects directly.
        if path.hasPrefix("packs/"), let windowed = try windows.read(path, offset: offset, count: count, fetch: { start, size throws(RepositoryError) in
            try readRange(path, offset: start, count: size)
        }) {
            return windowed
        }
        return try readRange(path, offset: offset, count: count)
    }

    /// One ranged GET, its answer checked against the range asked for.
    func readRange(_ path: String, offset: Int, count: Int) throws(RepositoryError) -> [UInt8]? {
        let key = key(path)
        let range = "bytes=\(offset)-\(offset + count - 1)"
        return try client.send("GET", key: key, headers: [("Range", range)]) { response, _ throws(RepositoryError) -> S3Client.Outcome<[UInt8]?> in
            switch response.status {
            case 404:
                return .done(nil)
            case 416:
                return .done([])
            case 206:
                guard let (start, end) = Self.contentRange(response.headers["content-range"]), start == offset,
                      end >= start, end < offset + count else {
                    return .retry("the answer's Content-Range (\(response.headers["content-range"] ?? "none")) is not \(range)")
                }
                guard response.body.count == end - start + 1 else {
                    return .retry("got \(response.body.count) of \(end - start + 1) bytes")
                }
                return .done(response.body)
            case 200:
                // The server ignored the range and sent the whole object.
                if let length = response.headers["content-length"].flatMap(Int.init), length != response.body.count {
                    return .retry("got \(response.body.count) of \(length) bytes")
                }
                guard offset < response.body.count else { return .done([]) }
                return .done(Array(response.body[offset..<min(response.body.count, offset + count)]))
            default:
                throw client.failure("GET", key, response)
            }
        }
    }

    /// The object's headers (HEAD), or nil when it does not exist.
    func head(_ path: String) throws(RepositoryError) -> [String: String]? {
        let key = key(path)
        return try client.send("HEAD", key: key) { response, _ throws(RepositoryError) -> S3Client.Outcome<[String: String]?> in
            if response.status == 404 { return .done(nil) }
            guard response.status == 200 else { throw client.failure("HEAD", key, response) }
            return .done(response.headers)
        }
    }

    public func size(_ path: String) throws(RepositoryError) -> Int? {
        guard let headers = try head(path) else { return nil }
        guard let length = headers["content-length"].flatMap(Int.init) else {
            throw RepositoryError(.io, "S3 HEAD \(client.display(key(path))) has no Content-Length")
        }
        return length
    }

    /// When the object was stored: the writer's clock in milliseconds (`x-amz-meta-lifeboat-stored`), else the
    /// server's Last-Modified (whole seconds).
    public func modificationTime(_ path: String) throws(RepositoryError) -> Date? {
        guard let headers = try head(path) else { return nil }
        if let stored = headers["x-amz-meta-lifeboat-stored"].flatMap(Double.init) {
            return Date(timeIntervalSince1970: stored / 1000)
        }
        return headers["last-modified"].flatMap(Self.httpDate)
    }

    public func exists(_ path: String) throws(RepositoryError) -> Bool { try head(path) != nil }

    /// The server's own Last-Modified of an object (whole seconds): the store's clock, not a writer's.
    func serverModificationTime(_ path: String) throws(RepositoryError) -> Date? {
        guard let headers = try head(path) else { return nil }
        guard let date = headers["last-modified"].flatMap(Self.httpDate) else {
            throw RepositoryError(.io, "S3 HEAD \(client.display(key(path))) has no Last-Modified")
        }
        return date
    }

    // MARK: - Writing

    public func write(_ path: String, _ bytes: [UInt8], mode: WriteMode, storedAt: Date?) throws(RepositoryError) -> Bool {
        windows.invalidate(path)
        if bytes.count > multipartThreshold {
            if mode == .createNew, try exists(path) { return false }
            let upload = S3Upload(store: self, path: path, storedAt: storedAt)
            do throws(RepositoryError) {
                try upload.append(bytes)
                try upload.commit()
            } catch {
                upload.abort()
                throw error
            }
            return true
        }
        return try put(path, bytes, createNew: mode == .createNew, storedAt: storedAt)
    }

    /// One PUT. With `createNew`, `If-None-Match: *` makes the server refuse to replace an object (412): false.
    func put(_ path: String, _ bytes: [UInt8], createNew: Bool, storedAt: Date? = nil) throws(RepositoryError) -> Bool {
        let key = key(path)
        let md5 = MD5.digest(bytes)
        var headers: [(name: String, value: String)] = [
            ("Content-Type", "application/octet-stream"),
            ("Content-MD5", Data(md5).base64EncodedString()),
            ("x-amz-meta-lifeboat-stored", String(Int64((storedAt ?? Date()).timeIntervalSince1970 * 1000))),
        ]
        if createNew { headers.append(("If-None-Match", "*")) }
        return try client.send("PUT", key: key, headers: headers, body: bytes) { response, attempt throws(RepositoryError) -> S3Client.Outcome<Bool> in
            if response.status == 412 && createNew {
                // An earlier attempt may have stored it before its answer was lost: then it is ours.
                if attempt > 0, let existing = try read(path), existing == bytes { return .done(true) }
                return .done(false)
            }
            if response.status == 409 { return .retry("409 conflicting write in progress") }
            guard response.status == 200 else { throw client.failure("PUT", key, response) }
            if let etag = Self.plainETag(response.headers["etag"]), etag != Hex.encode(md5) {
                return .retry("the stored object's ETag does not match what was sent")
            }
            return .done(true)
        }
    }

    public func upload(_ path: String) throws(RepositoryError) -> any ObjectUpload {
        S3Upload(store: self, path: path)
    }

    public func remove(_ path: String) throws(RepositoryError) {
        windows.invalidate(path)
        let key = key(path)
        try client.send("DELETE", key: key) { response, _ throws(RepositoryError) -> S3Client.Outcome<Void> in
            guard [200, 204, 404].contains(response.status) else { throw client.failure("DELETE", key, response) }
            return .done(())
        }
    }

    /// Nothing to do: an object exists once the server has answered its PUT.
    public func makeDurable() throws(RepositoryError) {}

    public func removeEmptyFolders(_ folder: String) throws(RepositoryError) {}

    // MARK: - Listing

    public func list(_ folder: String) throws(RepositoryError) -> [String] {
        let prefix = key(folder.isEmpty ? "" : folder + "/")
        var names = Set<String>()
        try listPages(prefix: prefix, delimiter: true) { document in
            for record in document.records["Contents"] ?? [] {
                if let key = record["Key"] { names.insert(String(key.dropFirst(prefix.count))) }
            }
            for record in document.records["CommonPrefixes"] ?? [] {
                if let key = record["Prefix"] { names.insert(String(key.dropFirst(prefix.count).dropLast())) }
            }
        }
        return names.filter { !$0.isEmpty && !$0.hasPrefix(".") }.sorted()
    }

    public func listAll(_ folder: String) throws(RepositoryError) -> [StoredObject] {
        let prefix = key(folder.isEmpty ? "" : folder + "/")
        let root = client.target.prefix
        var result: [StoredObject] = []
        try listPages(prefix: prefix, delimiter: false) { document in
            for record in document.records["Contents"] ?? [] {
                guard let key = record["Key"], let size = record["Size"].flatMap(Int.init) else { continue }
                result.append(StoredObject(path: String(key.dropFirst(root.count)), size: size))
            }
        }
        return result.sorted { $0.path < $1.path }
    }

    /// ListObjectsV2, page after page (1000 keys each) until the answer is no longer truncated.
    private func listPages(prefix: String, delimiter: Bool, _ page: (S3XML) -> Void) throws(RepositoryError) {
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if delimiter { query.append(("delimiter", "/")) }
            if let token { query.append(("continuation-token", token)) }
            let document = try client.send("GET", key: nil, query: query) { response, _ throws(RepositoryError) -> S3Client.Outcome<S3XML> in
                guard response.status == 200 else { throw client.failure("LIST", prefix, response) }
                let document = S3XML(response.body, recordElements: ["Contents", "CommonPrefixes"])
                // A cut answer must not pass for a shorter listing: the document must be whole, and its key count
                // (when the server gives one) must match what it holds.
                let held = (document.records["Contents"]?.count ?? 0) + (document.records["CommonPrefixes"]?.count ?? 0)
                guard document.complete, document.fields["IsTruncated"] != nil,
                      document.fields["KeyCount"].flatMap(Int.init).map({ $0 == held }) ?? true else {
                    return .retry("the listing is incomplete")
                }
                return .done(document)
            }
            page(document)
            token = document.fields["IsTruncated"] == "true" ? document.fields["NextContinuationToken"] : nil
            if document.fields["IsTruncated"] == "true" && token == nil {
                throw RepositoryError(.io, "S3 listing of \(client.display(prefix)) is truncated without a continuation token")
            }
        } while token != nil
    }

    // MARK: - Bucket and lock

    /// Creates the bucket when it does not exist (`repo init`).
    func createBucketIfMissing() throws(RepositoryError) {
        let exists = try client.send("HEAD", key: nil) { response, _ throws(RepositoryError) -> S3Client.Outcome<Bool> in
            switch response.status {
            case 200: return .done(true)
            case 404: return .done(false)
            default: throw client.failure("HEAD", "", response)
            }
        }
        guard !exists else { return }
        let region = client.target.region
        let body = region == "us-east-1" ? [] : Array(("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            + "<LocationConstraint>\(S3XML.escape(region))</LocationConstraint></CreateBucketConfiguration>").utf8)
        try client.send("PUT", key: nil, body: body) { response, _ throws(RepositoryError) -> S3Client.Outcome<Void> in
            guard response.status == 200 || S3XML.error(response.body)?.code == "BucketAlreadyOwnedByYou" else {
                throw client.failure("CREATE BUCKET", "", response)
            }
            return .done(())
        }
    }

    public func lock(_ mode: RepositoryLock.Mode, timeout: TimeInterval) throws(RepositoryError) -> any StoreLock {
        try S3Lock.acquire(self, mode, timeout: timeout)
    }

    // MARK: - Header helpers

    /// The MD5 an ETag states, when it is a plain one (not a multipart upload's `…-N`).
    static func plainETag(_ value: String?) -> String? {
        guard let value else { return nil }
        let trimmed = value.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        return trimmed.count == 32 && trimmed.allSatisfy(\.isHexDigit) ? trimmed.lowercased() : nil
    }

    /// `bytes START-END/TOTAL` → (START, END).
    static func contentRange(_ value: String?) -> (Int, Int)? {
        guard let value, value.hasPrefix("bytes ") else { return nil }
        let range = value.dropFirst(6).split(separator: "/").first ?? ""
        let bounds = range.split(separator: "-")
        guard bounds.count == 2, let start = Int(bounds[0]), let end = Int(bounds[1]) else { return nil }
        return (start, end)
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}

extension S3Store {
    /// The location with every setting a separate process needs to reach the bucket (endpoint, region,
    /// addressing, CA bundle) in its query — never the credentials. For PostgreSQL's `restore_command`.
    public var selfContainedLocation: String {
        let target = client.target
        var items = [URLQueryItem(name: "endpoint", value: "\(target.scheme)://\(target.authority)"),
                     URLQueryItem(name: "region", value: target.region),
                     URLQueryItem(name: "addressing", value: target.addressing.rawValue)]
        if let ca = target.caBundle { items.append(URLQueryItem(name: "ca_bundle", value: ca)) }
        var components = URLComponents()
        components.queryItems = items
        let prefix = target.prefix.isEmpty ? "" : "/" + target.prefix.dropLast()
        return "s3://\(target.bucket)\(prefix)?" + (components.percentEncodedQuery ?? "")
    }

    /// Writes the credentials as an AWS shared credentials file (mode 0600, profile `default`), for a process
    /// started by someone else (PostgreSQL's `restore_command` in a drill's scratch folder).
    public func writeCredentialsFile(to path: String) throws(RepositoryError) {
        let credentials = client.target.credentials
        var text = "[default]\naws_access_key_id = \(credentials.accessKeyId)\n"
            + "aws_secret_access_key = \(credentials.secretAccessKey)\n"
        if let token = credentials.sessionToken { text += "aws_session_token = \(token)\n" }
        let folder = FileStore(root: (path as NSString).deletingLastPathComponent)
        guard try folder.writeFile((path as NSString).lastPathComponent, Array(text.utf8), mode: .createNew,
                                   permissions: 0o600) else {
            throw RepositoryError(.refused, "\(path) exists; not overwriting it")
        }
    }
}

extension S3Store {
    /// Aborts multipart uploads below the prefix started more than `age` seconds ago: the parts a killed process
    /// left, which the bucket keeps (and bills) until someone aborts them. Returns how many were aborted.
    public func abortStaleUploads(olderThan age: TimeInterval) throws(RepositoryError) -> Int {
        let prefix = client.target.prefix
        let cutoff = Date().addingTimeInterval(-age)
        var stale: [(key: String, id: String)] = []
        var markers: (key: String, upload: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", prefix)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let document = try client.send("GET", key: nil, query: query) { response, _ throws(RepositoryError) -> S3Client.Outcome<S3XML> in
                guard response.status == 200 else { throw client.failure("LIST UPLOADS", prefix, response) }
                let document = S3XML(response.body, recordElements: ["Upload"])
                guard document.complete else { return .retry("the listing of uploads is incomplete") }
                return .done(document)
            }
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            for upload in document.records["Upload"] ?? [] {
                guard let key = upload["Key"], let id = upload["UploadId"], let text = upload["Initiated"],
                      let initiated = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) else { continue }
                if initiated < cutoff { stale.append((key, id)) }
            }
            if document.fields["IsTruncated"] == "true", let key = document.fields["NextKeyMarker"],
               let upload = document.fields["NextUploadIdMarker"] {
                markers = (key, upload)
            } else {
                markers = nil
            }
        } while markers != nil
        for upload in stale {
            try client.send("DELETE", key: upload.key, query: [("uploadId", upload.id)]) { response, _ throws(RepositoryError) -> S3Client.Outcome<Void> in
                guard [200, 204, 404].contains(response.status) else { throw client.failure("ABORT UPLOAD", upload.key, response) }
                return .done(())
            }
        }
        return stale.count
    }
}
