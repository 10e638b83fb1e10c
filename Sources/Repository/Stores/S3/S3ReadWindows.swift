import Dispatch
import Synchronization

/// Small ranged reads of one object served from larger windows: a restore reads a pack's chunks (often of many
/// small files, stored side by side) by many workers at once, and one 1 MiB GET instead of eight 128 KiB ones cuts
/// the requests — and the latency each costs — by as much. A window being fetched is fetched once; the readers that
/// need it meanwhile wait for it. At most `capacity` windows are kept (bounded memory), least recently used first
/// out.
final class S3ReadWindows: Sendable {
    static let windowSize = 1 << 20

    private final class Window: Sendable {
        let ready = DispatchGroup()
        let result = Mutex<Result<[UInt8]?, RepositoryError>?>(nil)
        init() { ready.enter() }
    }

    private struct State {
        var windows: [String: Window] = [:]
        var order: [String] = []
    }

    private let state = Mutex(State())
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Forgets the windows of an object that was replaced or removed.
    func invalidate(_ path: String) {
        state.withLock { state in
            let prefix = path + "@"
            state.order.removeAll { $0.hasPrefix(prefix) }
            state.windows = state.windows.filter { !$0.key.hasPrefix(prefix) }
        }
    }

    /// `count` bytes at `offset` of `path` from its window, fetching the window with `fetch(windowOffset, size)`.
    /// Nil when the read does not fit in one window (the caller reads it directly).
    func read(_ path: String, offset: Int, count: Int,
              fetch: (Int, Int) throws(RepositoryError) -> [UInt8]?) throws(RepositoryError) -> [UInt8]?? {
        let start = offset / Self.windowSize * Self.windowSize
        guard count <= Self.windowSize / 2, offset + count <= start + Self.windowSize else { return .none }
        let key = "\(path)@\(start)"
        let (window, owner) = state.withLock { state -> (Window, Bool) in
            if let known = state.windows[key] {
                state.order.removeAll { $0 == key }
                state.order.append(key)
                return (known, false)
            }
            let created = Window()
            state.windows[key] = created
            state.order.append(key)
            while state.order.count > capacity {
                state.windows[state.order.removeFirst()] = nil
            }
            return (created, true)
        }
        if owner {
            let result: Result<[UInt8]?, RepositoryError>
            do throws(RepositoryError) {
                result = .success(try fetch(start, Self.windowSize))
            } catch {
                result = .failure(error)
                // Not kept: the next reader tries again.
                state.withLock { state in
                    if state.windows[key] === window {
                        state.windows[key] = nil
                        state.order.removeAll { $0 == key }
                    }
                }
            }
            window.result.withLock { $0 = result }
            window.ready.leave()
        } else {
            window.ready.wait()
        }
        guard let result = window.result.withLock({ $0 }) else { return .none }
        let bytes = try result.get()
        guard let bytes else { return .some(nil) }
        let from = offset - start
        guard from < bytes.count else { return .some([]) }
        return .some(Array(bytes[from..<min(bytes.count, from + count)]))
    }
}
