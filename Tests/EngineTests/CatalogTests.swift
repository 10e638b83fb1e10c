import Engine
import Foundation
import TestSupport
import Testing
import LifeboatCore

@Suite("The catalog")
struct CatalogTests {
    func record(id: String, plan: String, pid: Int32, status: RunStatus = .running) -> RunRecord {
        RunRecord(id: id, plan: plan, planFile: "p.yaml", planDigest: "00", kind: "backup", trigger: .cron,
                  osUser: "tester", host: "h", pid: pid, startedAt: Date(), endedAt: nil, status: status, error: nil,
                  logFile: "/dev/null")
    }

    @Test("a run whose process is gone shows as interrupted once its lock is free")
    func interrupted() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let catalog = try Catalog(state: StateDirectory(path: folder.file("state")))
        let step = StepRecord(runId: "r1", stepId: "s", phase: .main, position: 0, uses: "exec", status: .running,
                              startedAt: Date(), endedAt: nil, attempts: 1, outputTail: nil, error: nil,
                              ignoredFailure: false)
        try catalog.insert(record(id: "r1", plan: "dead", pid: 999_999), steps: [step])
        // A live run: its lock is held by this process, whose pid it records.
        let lock = try PlanLock.acquire(plan: "alive", in: catalog.state)
        try catalog.insert(record(id: "r2", plan: "alive", pid: getpid()), steps: [])

        let runs = try catalog.runs()
        #expect(runs.first { $0.id == "r1" }?.status == .interrupted)
        #expect(runs.first { $0.id == "r2" }?.status == .running)
        let details = try catalog.run("r1")
        #expect(details.steps.first?.status == .interrupted)
        #expect(details.run.error?.contains("pid 999999") == true)
        withExtendedLifetime(lock) {}
    }

    @Test("runs are found by a unique prefix; ambiguous and unknown ids are errors")
    func lookup() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let catalog = try Catalog(state: StateDirectory(path: folder.file("state")))
        try catalog.insert(record(id: "20261126T010000Z-aaaa", plan: "p", pid: 1, status: .succeeded), steps: [])
        try catalog.insert(record(id: "20261126T020000Z-bbbb", plan: "p", pid: 1, status: .succeeded), steps: [])
        #expect(try catalog.run("20261126T01").run.id == "20261126T010000Z-aaaa")
        #expect(throws: LifeboatError.self) { try catalog.run("20261126T0") }
        #expect(throws: LifeboatError.self) { try catalog.run("nope") }
        #expect(try catalog.runs(plan: "p", limit: 1).map(\.id) == ["20261126T020000Z-bbbb"])
    }

    @Test("the catalog reopens with its migrations applied once, in WAL mode")
    func reopen() throws {
        let folder = try TemporaryDirectory()
        defer { folder.remove() }
        let state = StateDirectory(path: folder.file("state"))
        _ = try Catalog(state: state)
        let catalog = try Catalog(state: state)
        #expect(try catalog.runs().isEmpty)
        let mode = try ProcessRunner.run("/usr/bin/env", ["python3", "-c",
            "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('pragma journal_mode').fetchone()[0])",
            state.catalogPath])
        #expect(mode.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "wal")
    }
}
