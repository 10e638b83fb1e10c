import Dispatch
import Synchronization

/// Stores chunks on all cores while one reader feeds them: the reader cuts, workers hash, compress, encrypt and
/// append to packs. At most `limit` chunks are in flight, so memory stays flat however large the source is.
///
/// Results land in numbered slots (one per chunk, in the reader's order), so each file's chunk list keeps its order.
public final class ChunkPipeline: Sendable {
    private struct State {
        var ids: [String?] = []
        var firstError: RepositoryError?
        var newChunks = 0
        var newBytes: Int64 = 0
    }

    private let repository: BackupRepository
    private let writer: PackWriter
    private let state = Mutex(State())
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let queue = DispatchQueue(label: "lifeboat.chunks", attributes: .concurrent)

    public init(repository: BackupRepository, workers: Int) {
        self.repository = repository
        writer = repository.packWriter()
        slots = DispatchSemaphore(value: max(2, workers * 2))
    }

    /// Queues one chunk and returns its slot number. Blocks while too many chunks are in flight.
    public func submit(_ chunk: [UInt8]) throws(RepositoryError) -> Int {
        let slot = try state.withLock { state throws(RepositoryError) -> Int in
            if let error = state.firstError { throw error }
            state.ids.append(nil)
            return state.ids.count - 1
        }
        slots.wait()
        group.enter()
        queue.async { [self] in
            defer {
                slots.signal()
                group.leave()
            }
            do {
                let stored = try chunk.withUnsafeBytes { try repository.stageChunk($0, in: writer) }
                state.withLock { state in
                    state.ids[slot] = stored.id
                    if stored.written > 0 {
                        state.newChunks += 1
                        state.newBytes += Int64(stored.written)
                    }
                }
            } catch let error as RepositoryError {
                state.withLock { state in if state.firstError == nil { state.firstError = error } }
            } catch {
                state.withLock { state in if state.firstError == nil { state.firstError = RepositoryError(.io, "\(error)") } }
            }
        }
        return slot
    }

    /// Waits for every queued chunk and publishes the new ones (durable, indexed); returns the ids by slot, and how
    /// many chunks and bytes were new. Only then may a manifest refer to them.
    public func finish() throws(RepositoryError) -> (ids: [String], newChunks: Int, newBytes: Int64) {
        group.wait()
        let result: (ids: [String], newChunks: Int, newBytes: Int64)
        do throws(RepositoryError) {
            result = try state.withLock { state throws(RepositoryError) in
                if let error = state.firstError { throw error }
                return (state.ids.map { $0! }, state.newChunks, state.newBytes)
            }
        } catch {
            writer.abandon()
            throw error
        }
        try repository.publish(writer)
        return result
    }

    /// Waits for queued chunks and removes the packs still open: the backup failed and publishes nothing.
    public func abandon() {
        group.wait()
        writer.abandon()
    }
}
