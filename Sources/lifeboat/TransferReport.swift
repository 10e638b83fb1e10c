import Foundation
import Postgres
import LifeboatCore

/// Progress lines for backups and restores: on a terminal, one line redrawn each second; otherwise nothing.
enum TransferReport {
    static var isTerminal: Bool { isatty(STDERR_FILENO) == 1 }

    @Sendable static func show(_ verb: String) -> @Sendable (TransferProgress) -> Void {
        { progress in
            var line = "\r\(verb) \(Formatted.bytes(progress.bytesDone))"
            let rate = progress.elapsed > 0 ? Double(progress.bytesDone) / progress.elapsed : 0
            if let total = progress.bytesTotal, total > 0 {
                let percent = min(100, Int(Double(progress.bytesDone) * 100 / Double(total)))
                line += " of \(Formatted.bytes(total)) (\(percent)%)"
                if rate > 0, total > progress.bytesDone {
                    line += ", ETA \(Formatted.duration(Double(total - progress.bytesDone) / rate))"
                }
            }
            line += " at \(Formatted.rate(rate))   "
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    static func endLine() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
