import Synchronization

/// Remembers every secret value resolved during a run and blanks it out of text bound for logs, the catalog and
/// reports.
public final class Redactor: Sendable {
    public static let mask = "***"
    private let secrets = Mutex<Set<String>>([])

    public init() {}

    /// Adds a secret value; values shorter than 3 characters are not masked (they would mangle ordinary text).
    public func register(_ secret: String) {
        let trimmed = secret.trimmingCharacters(in: .newlines)
        guard trimmed.count >= 3 else { return }
        secrets.withLock { _ = $0.insert(trimmed) }
    }

    /// `text` with every registered secret replaced by `***`, longest secrets first.
    public func redact(_ text: String) -> String {
        let known = secrets.withLock { $0 }
        guard !known.isEmpty else { return text }
        var result = text
        for secret in known.sorted(by: { $0.count > $1.count }) where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: Self.mask)
        }
        return result
    }
}

import Foundation
