import Foundation
import Postgres
import Synchronization

/// What the steps of one run share: scratch servers (stopped and removed when the run ends, unless kept) and the
/// evidence a drill report is made of.
public final class RunSession: Sendable {
    public let runId: String
    public let startedAt: Date
    /// `--keep`: leave scratch servers running after the run, for a person to look at.
    public let keepScratch: Bool
    /// Sends the run's events to its plan's channels (nil in runs that notify nobody).
    public let notifier: RunNotifier?

    private struct Scratch {
        var step: String
        var database: String
        var server: ScratchServer
    }

    private struct State {
        var scratch: [Scratch] = []
        var restores: [RestoreEvidence] = []
        var checks: [CheckEvidence] = []
        var mirrorAges: [(String, Double)] = []
        var walGaps: [(String, String)] = []
        var leaseEnds: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    public init(runId: String, startedAt: Date, keepScratch: Bool = false, notifier: RunNotifier? = nil) {
        self.runId = runId
        self.startedAt = startedAt
        self.keepScratch = keepScratch
        self.notifier = notifier
    }

    /// Registers a scratch server as soon as its folder exists, so that it is removed however the run ends.
    public func register(_ server: ScratchServer, step: String, database: String) {
        state.withLock { $0.scratch.append(Scratch(step: step, database: database, server: server)) }
    }

    /// The scratch server a restore step made (by its step id), or the only one when `step` is nil.
    public func scratchServer(step: String?) -> (server: ScratchServer, database: String, step: String)? {
        state.withLock { state in
            let candidates = step.map { id in state.scratch.filter { $0.step == id } } ?? state.scratch
            guard candidates.count == 1, let found = candidates.first else { return nil }
            return (found.server, found.database, found.step)
        }
    }

    public func record(_ evidence: RestoreEvidence) {
        state.withLock { $0.restores.append(evidence) }
    }

    public func record(_ evidence: CheckEvidence) {
        state.withLock { $0.checks.append(evidence) }
    }

    /// How long ago a verified mirror last synced successfully (its data-loss exposure).
    public func recordMirrorAge(_ mirror: String, seconds: Double) {
        state.withLock { $0.mirrorAges.append((mirror, seconds)) }
    }

    /// Ends a recovery lease when the scratch servers go (`cleanUp`).
    public func registerLeaseEnd(_ end: @escaping @Sendable () -> Void) {
        state.withLock { $0.leaseEnds.append(end) }
    }

    /// A restore refused because the archive has a gap before its target: the RPO cannot be met from it.
    public func recordWALGap(database: String, gap: String) {
        state.withLock { $0.walGaps.append((database, gap)) }
    }

    public var walGaps: [(database: String, gap: String)] { state.withLock { $0.walGaps } }
    public var mirrorAges: [(mirror: String, seconds: Double)] { state.withLock { $0.mirrorAges } }
    public var restores: [RestoreEvidence] { state.withLock { $0.restores } }
    public var checks: [CheckEvidence] { state.withLock { $0.checks } }

    /// Stops and removes every scratch server, or with `keepScratch` leaves them running; returns what was kept
    /// (step, connection string, folder).
    @discardableResult
    public func cleanUp() -> [(step: String, conninfo: String, folder: String)] {
        let all = state.withLock { $0.scratch }
        // The drill is over (a kept server has finished its recovery): expire may remove what it read.
        defer {
            for end in state.withLock({ state -> [@Sendable () -> Void] in
                defer { state.leaseEnds = [] }
                return state.leaseEnds
            }) { end() }
        }
        if keepScratch {
            return all.compactMap { scratch in
                scratch.server.conninfo().map { (scratch.step, $0, scratch.server.folder) }
            }
        }
        for scratch in all { scratch.server.destroy() }
        return []
    }
}
