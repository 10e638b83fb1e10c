import Foundation
import LifeboatHTTP
import TestSupport
import Testing

@Suite("The HTTP client")
struct HTTPClientTests {
    @Test("a POST body arrives whole, NUL bytes included, on fresh and reused connections")
    func binaryBodies() async throws {
        let receiver = try await HTTPReceiver()
        let body: [UInt8] = Array("before\u{0}after".utf8) + [UInt8](repeating: 65, count: 300_000)
        let session = HTTPSession()
        try await onOwnThread {
            for _ in 0..<3 {
                let response = try session.send(HTTPRequest(method: "POST", url: receiver.url + "/x", body: body))
                #expect(response.status == 200)
            }
            #expect(try HTTPClient.send(HTTPRequest(method: "POST", url: receiver.url + "/y", body: body)).status == 200)
        }
        let received = receiver.requests
        #expect(received.count == 4)
        #expect(received.allSatisfy { Array($0.body.utf8) == body })
    }
}
