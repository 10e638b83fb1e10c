import Dispatch
import Engine
import Foundation

/// Turns SIGINT and SIGTERM into cancellation of the run's task, so that steps end cleanly and the run is
/// recorded as cancelled.
final class SignalCancellation {
    private let sources: [any DispatchSourceSignal]

    init(cancelling task: Task<RunOutcome, any Error>) {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                FileHandle.standardError.write(Data("lifeboat: stopping: cancelling running steps\n".utf8))
                task.cancel()
            }
            source.resume()
            return source
        }
    }

    func stop() {
        for source in sources { source.cancel() }
    }
}
