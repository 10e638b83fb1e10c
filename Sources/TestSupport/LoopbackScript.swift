import Foundation
import Postgres

/// A Python script serving on a free loopback port, in a temporary folder of its own; stopped and removed with
/// the value. The receivers, the fault proxy and the S3 server are each one of these.
public final class LoopbackScript: Sendable {
    public let folder: TemporaryDirectory
    public let port: Int
    private let process: RunningProcess

    /// Writes `script`, starts `python script PORT arguments(folder)...` and waits until the port accepts.
    init(prefix: String, script: String, python: String = "/usr/bin/python3", startup: Double = 10,
         what: String, arguments: (TemporaryDirectory) throws -> [String] = { _ in [] }) async throws {
        folder = try TemporaryDirectory(prefix: prefix)
        let path = try folder.write("server.py", script)
        port = try ServerUser.freePort()
        process = try ProcessRunner.start(python, [path, String(port)] + arguments(folder))
        guard await portAccepts(port, within: startup) else {
            process.signal(SIGKILL)
            let error = process.wait().stderr
            folder.remove()
            throw FixtureError("\(what) did not start: \(error)")
        }
    }

    deinit {
        process.signal(SIGKILL)
        _ = process.wait()
        folder.remove()
    }
}
