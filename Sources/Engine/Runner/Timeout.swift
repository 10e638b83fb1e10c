import Plans
import LifeboatCore

/// A step ran longer than its `timeout`.
struct StepTimedOut: LifeboatFailure {
    var limit: PlanDuration
    var code: ErrorCode { .runFailed }
    var message: String { "timed out after \(limit)" }
}

/// Runs `operation`, cancelling it when `limit` passes first (it is then awaited until it has ended).
func withTimeout(_ limit: PlanDuration?, _ operation: @escaping @Sendable () async throws -> Void) async throws {
    guard let limit else { return try await operation() }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit.duration)
            throw StepTimedOut(limit: limit)
        }
        defer { group.cancelAll() }
        try await group.next()
    }
}
