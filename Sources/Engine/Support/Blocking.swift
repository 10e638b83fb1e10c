import Foundation
import Synchronization

/// Runs blocking work (libpq streams, file I/O loops) on a thread of its own, so that it never occupies the
/// concurrency pool. Cancelling the awaiting task sets the flag the work is given; the work should poll it.
enum Blocking {
    final class StopFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        func stop() { flag.store(true, ordering: .relaxed) }
        var isSet: Bool { flag.load(ordering: .relaxed) }
    }

    /// `onCancel` runs (on the cancelling thread) when the awaiting task is cancelled: e.g. to cancel a query the
    /// work is blocked in.
    static func run<T: Sendable>(onCancel: @escaping @Sendable () -> Void = {},
                                 _ work: @escaping @Sendable (StopFlag) throws -> T) async throws -> T {
        let stop = StopFlag()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let thread = Thread {
                    continuation.resume(with: Result { try work(stop) })
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
        } onCancel: {
            stop.stop()
            onCancel()
        }
    }
}
