import Foundation
import Synchronization
import LifeboatCore

/// Points where a test can kill the process, to prove that an operation interrupted there loses nothing (the way a
/// power cut or SIGKILL would interrupt it). `LIFEBOAT_FAILPOINTS=upgrade.wal-moved=3` sends SIGKILL to the
/// process the third time it passes `upgrade.wal-moved`; several are separated by commas. Unset, a pass costs one
/// dictionary lookup. `name=N:stop` sends SIGSTOP instead (a process paused there, as a VM pause would).
public enum Failpoint {
    private static let armed: [String: (count: Int, signal: Int32)] = {
        var result: [String: (Int, Int32)] = [:]
        for item in (ProcessInfo.processInfo.environment[EnvironmentVariable.failpoints.name] ?? "").split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard let name = parts.first else { continue }
            let setting = parts.count > 1 ? parts[1].split(separator: ":") : []
            let count = setting.first.flatMap { Int($0) } ?? 1
            result[String(name)] = (count, setting.dropFirst().first == "stop" ? SIGSTOP : SIGKILL)
        }
        return result
    }()
    private static let passes = Mutex<[String: Int]>([:])

    public static func pass(_ name: String) {
        guard let (limit, signal) = armed[name] else { return }
        let count = passes.withLock { passes -> Int in
            passes[name, default: 0] += 1
            return passes[name]!
        }
        if count == limit || (count > limit && signal == SIGKILL) { kill(getpid(), signal) }
    }
}
