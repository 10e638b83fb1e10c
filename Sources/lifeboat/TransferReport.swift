import Foundation
import Postgres

/// Progress lines for backups and restores: on a terminal, one line redrawn each second; otherwise nothing.
enum TransferReport {
    static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    @Sendable static func show(_ verb: String) -> @Sendable (TransferProgress) -> Void {
        { progress in
            var line = "\r\(verb) \(bytes(progress.bytesDone))"
            let rate = progress.elapsed > 0 ? Double(progress.bytesDone) / progress.elapsed : 0
            if let total = progress.bytesTotal, total > 0 {
                let percent = min(100, Int(Double(progress.bytesDone) * 100 / Double(total)))
                line += " of \(bytes(total)) (\(percent)%)"
                if rate > 0, total > progress.bytesDone {
                    line += ", ETA \(Console.duration(Double(total - progress.bytesDone) / rate))"
                }
            }
            line += " at \(bytes(Int64(rate)))/s   "
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func endLine() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// `1.4 GB`, `512 MB`, `12 kB` (decimal units, as throughput is usually read).
    static func bytes(_ count: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }
}
