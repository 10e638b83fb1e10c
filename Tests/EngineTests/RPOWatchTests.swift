import Engine
import Foundation
import Logging
import TestSupport
import Testing

@Suite("The RPO watch")
struct RPOWatchTests {
    @Test("rpo.breached and rpo.recovered are sent once per transition, also across a restart")
    func transitions() async throws {
        let receiver = try await HTTPReceiver()
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        try folder.write("plans/lifeboat.yaml", """
            databases:
              orders: { host: /tmp, dbname: orders, rpo: 1m, notify: [hook] }
            channels:
              hook: { type: webhook, url: "\(receiver.url)/rpo" }
            """)
        let catalog = try Catalog(state: StateDirectory(path: folder.file("state")))
        func watch() -> RPOWatch {
            RPOWatch(catalog: catalog, plansFolder: folder.file("plans"), logger: Logger(label: "test"), environment: [:])
        }
        let first = watch()
        await first.check(exposures: ["orders": 30])      // healthy at first sight: nothing to say
        await first.check(exposures: ["orders": 120])     // breached
        await first.check(exposures: ["orders": 240])     // still breached: said already
        let restarted = watch()
        await restarted.check(exposures: ["orders": 300])
        await restarted.check(exposures: ["orders": 5])   // recovered
        await restarted.check(exposures: ["orders": 6])
        let events = receiver.requests.map { $0.json["event"] as? String ?? "" }
        #expect(events == ["rpo.breached", "rpo.recovered"])
        let breach = try #require(receiver.requests.first)
        #expect((breach.json["summary"] as? String)?.contains("RPO exposure 2m exceeds the target of 1m") == true)
        #expect(breach.json["marker"] as? String == "REAL INCIDENT")
        // No backup at all counts as breached.
        await restarted.check(exposures: ["orders": nil])
        #expect(receiver.requests.count == 3)
    }
}
