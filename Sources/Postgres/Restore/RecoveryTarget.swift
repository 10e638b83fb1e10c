import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// Where recovery stops.
public enum RecoveryTarget: Sendable, Equatable {
    /// Replay all WAL the archive has (the default).
    case latest
    /// Stop as soon as the backup is consistent.
    case immediate
    case time(String)
    case lsn(String)
    case name(String)
}

extension Restore {
    /// ISO 8601 (`2026-11-26T02:30:00Z`) or PostgreSQL style (`2026-11-26 02:30:00+00`).
    public static func parseTime(_ text: String) -> Date? {
        let formats = ["yyyy-MM-dd'T'HH:mm:ssXXXXX", "yyyy-MM-dd HH:mm:ssXXXXX", "yyyy-MM-dd HH:mm:ss.SSSSSSXXXXX",
                       "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd HH:mm:ssX", "yyyy-MM-dd HH:mm:ss.SSSSSSX"]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        for format in formats {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
