import Foundation
import Synchronization

/// Points where a test can kill the process, to prove that an operation interrupted there loses nothing (the way a
/// power cut or SIGKILL would interrupt it). `LIFEBOAT_FAILPOINTS=upgrade.wal-moved=3` sends SIGKILL to the
/// process the third time it passes `upgrade.wal-moved`; several are separated by commas. Unset, a pass costs one
/// dictionary lookup.
public enum Failpoint {
    private static let armed: [String: Int] = {
        var result: [String: Int] = [:]
        for item in (ProcessInfo.processInfo.environment["LIFEBOAT_FAILPOINTS"] ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard let name = parts.first else { continue }
            result[String(name)] = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
        }
        return result
    }()
    private static let passes = Mutex<[String: Int]>([:])

    public static func pass(_ name: String) {
        guard let limit = armed[name] else { return }
        let count = passes.withLock { passes -> Int in
            passes[name, default: 0] += 1
            return passes[name]!
        }
        if count >= limit { kill(getpid(), SIGKILL) }
    }
}
