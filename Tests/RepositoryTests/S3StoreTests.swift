import Foundation
@testable import Repository
import TestSupport
import Testing
import LifeboatCrypto

@Suite("S3-compatible object storage")
struct S3StoreTests {
    static let credentials = S3Credentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE",
                                           secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")

    func store(_ location: String, retries: Int? = nil) throws -> S3Store {
        try S3Store(location: location, settings: S3Settings(retries: retries), environment: S3Server.environment)
    }

    @Test("Signature V4 matches AWS's published examples")
    func signatureVectors() throws {
        let signer = S3Signer(credentials: Self.credentials, region: "us-east-1")
        let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
        let object = signer.sign(method: "GET", authority: "examplebucket.s3.amazonaws.com", path: "/test.txt", query: [],
                                 headers: [("Range", "bytes=0-9")], payloadHash: S3Signer.emptyPayloadHash, date: date)
        let authorization = try #require(object.first { $0.name == "Authorization" }?.value)
        #expect(authorization == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let listing = signer.sign(method: "GET", authority: "examplebucket.s3.amazonaws.com", path: "/",
                                  query: [("prefix", "J"), ("max-keys", "2")], headers: [],
                                  payloadHash: S3Signer.emptyPayloadHash, date: date)
        #expect(listing.first { $0.name == "Authorization" }?.value.hasSuffix(
            "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == true)
    }

    @Test("locations, settings and credentials resolve as documented; secrets are refused in locations")
    func settings() throws {
        let target = try S3Target(location: "s3://backups/db/prod?endpoint=https://minio.internal:9000&region=eu-1",
                                  settings: S3Settings(), environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(target.bucket == "backups" && target.prefix == "db/prod/" && target.authority == "minio.internal:9000")
        #expect(target.region == "eu-1" && target.addressing == .path && target.scheme == "https")
        let aws = try S3Target(location: "s3://backups", settings: S3Settings(region: "eu-west-3"),
                               environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(aws.authority == "s3.eu-west-3.amazonaws.com" && aws.addressing == .virtual && aws.prefix == "")
        #expect(throws: RepositoryError.self) {
            try S3Target(location: "s3://b/p?secret_access_key=x", settings: S3Settings(), environment: [:])
        }
        #expect(throws: RepositoryError.self) { try S3Target(location: "s3://b/p", settings: S3Settings(), environment: [:]) }
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let file = try folder.write("credentials", "[other]\naws_access_key_id = X\n[ci]\naws_access_key_id = K\naws_secret_access_key = S\n")
        let shared = try S3Target(location: "s3://b/p", settings: S3Settings(),
                                  environment: ["AWS_SHARED_CREDENTIALS_FILE": file, "AWS_PROFILE": "ci"])
        #expect(shared.credentials.accessKeyId == "K" && shared.credentials.secretAccessKey == "S")
        #expect(!"\(shared.credentials)".contains("S\""))
    }

    @Test("a folder store passes the storage conformance suite")
    func fileConformance() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try StoreConformance.check(FileStore(root: folder.file("store")))
        // Roots written other ways than canonical: through a symbolic link, with a `.`, relative to here.
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: folder.path)
        let linked = FileStore(root: folder.file("link/./second"))
        try linked.write("wal/00000001/a", [1], mode: .createNew)
        #expect(try linked.listAll("wal").map(\.path) == ["wal/00000001/a"])
        let relative = String(repeating: "../", count: FileManager.default.currentDirectoryPath.split(separator: "/").count)
            + folder.path.dropFirst() + "/second"
        #expect(try FileStore(root: relative).listAll("wal").map(\.path) == ["wal/00000001/a"])
        #expect(try FileStore(root: relative).list("wal") == ["00000001"])
    }

    @Test("an S3 store passes the storage conformance suite")
    func s3Conformance() async throws {
        let server = try await S3Server.shared()
        let store = try store(server.location())
        try store.createBucketIfMissing()
        try await onOwnThread { try StoreConformance.check(store) }
        #expect(store.requestCount > 1000)
    }

    @Test("an S3 store passes the conformance suite behind a network that fails every other request")
    func s3ConformanceUnderFaults() async throws {
        let server = try await S3Server.shared()
        let proxy = try await FaultProxy(upstream: server, actions: [
            "500", "ok", "slowdown", "ok", "drop", "ok", "truncate", "ok", "503", "ok", "short", "ok", "lost-reply", "ok",
        ])
        let store = try store(server.location(through: proxy))
        try store.createBucketIfMissing()
        try await onOwnThread { try StoreConformance.check(store) }
        let counts = proxy.counts
        for action in ["500", "slowdown", "drop", "truncate", "503", "short", "lost-reply"] {
            #expect((counts[action] ?? 0) > 10, "the proxy injected \(action)")
        }
        // Injected error statuses and dropped connections are what the retries were for.
        let certain = ["500", "503", "slowdown", "drop", "lost-reply"].reduce(0) { $0 + (counts[$1] ?? 0) }
        #expect(store.retryCount * 10 >= certain * 9, "\(store.retryCount) retries for \(certain) faults")
    }

    @Test("a server that keeps failing is an error naming the object after the retries, never a short object")
    func persistentFaults() async throws {
        let server = try await S3Server.shared()
        let direct = try store(server.location())
        try direct.createBucketIfMissing()
        _ = try direct.write("object", Array(repeating: 5, count: 1000), mode: .replace)
        let location = direct.location.replacingOccurrences(of: server.endpoint, with: "")

        for action in ["503", "short", "truncate"] {
            let proxy = try await FaultProxy(upstream: server, actions: [action])
            let faulty = try store(location + (proxy.endpoint), retries: 2)
            let error = try await onOwnThread { () -> RepositoryError? in
                do {
                    _ = try faulty.read("object")
                    return nil
                } catch let error as RepositoryError {
                    return error
                }
            }
            let failure = try #require(error, "\(action): a read that never succeeds must throw")
            #expect(failure.message.contains("after 3 attempts") && failure.message.contains("object"), Comment(rawValue: failure.message))
            #expect(proxy.counts[action] == 3)
        }
    }

    @Test("unfinished multipart uploads (a killed process's) are found and aborted")
    func staleUploads() async throws {
        let server = try await S3Server.shared()
        let store = try store(server.location())
        try await onOwnThread {
            try store.createBucketIfMissing()
            let upload = try store.upload("packs/00/killed")
            try upload.append([UInt8](repeating: 3, count: 9 << 20))  // the first part goes up
            // moto reports every upload as initiated in 2010, so only "old enough" can be shown here.
            #expect(try store.abortStaleUploads(olderThan: 3600) == 1)
            #expect(try store.abortStaleUploads(olderThan: 0) == 0)
            #expect(try !store.exists("packs/00/killed"))
        }
    }

    @Test("a repository on S3 stores chunks in packs, and verify names a damaged pack")
    func repositoryOnS3() async throws {
        let server = try await S3Server.shared()
        let store = try store(server.location())
        try await onOwnThread {
            let repository = try BackupRepository.initialize(in: store, passphrase: Array("pw".utf8), scryptN: 1 << 10)
            let writer = repository.packWriter(targetSize: 64 << 10)
            var ids: [String] = []
            for _ in 0..<40 {
                let chunk = SecureRandom.bytes(8192)
                ids.append(try chunk.withUnsafeBytes { try repository.stageChunk($0, in: writer) }.id)
            }
            try repository.publish(writer)
            let reopened = try BackupRepository.open(store, credential: .passphrase(Array("pw".utf8)))
            for id in ids { _ = try reopened.chunk(id) }
            #expect(try store.list("index").count == 1)
            #expect(try store.listAll("packs").count >= 4)

            // Damage one byte of a chunk inside its pack: reading names the chunk.
            let location = try #require(try reopened.chunkLocation(ids[7]))
            var pack = try #require(try store.read(location.path))
            pack[location.offset + location.length / 2] ^= 1
            _ = try store.write(location.path, pack, mode: .replace)
            let again = try BackupRepository.open(try S3Store(location: store.location, environment: S3Server.environment),
                                                  credential: .passphrase(Array("pw".utf8)))
            #expect(throws: RepositoryError.self) { try again.chunk(ids[7]) }
            _ = try again.chunk(ids[8])
        }
    }
}
