import Foundation
import LifeboatCore
import Plans

/// Writing for people (stdout) and for cron (stderr: only what is wrong).
enum Console {
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ message: String) {
        FileHandle.standardError.write(Data("lifeboat: error: \(message)\n".utf8))
    }

    static func warning(_ message: String) {
        FileHandle.standardError.write(Data("lifeboat: warning: \(message)\n".utf8))
    }

    static func hint(_ message: String) {
        FileHandle.standardError.write(Data("hint: \(message)\n".utf8))
    }

    static func diagnostics(_ diagnostics: [Diagnostic]) {
        guard !diagnostics.isEmpty else { return }
        let text = diagnostics.map(\.description).joined(separator: "\n") + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    static func json<T: Encodable>(_ value: T) throws {
        out(String(decoding: try LifeboatJSON.encoder().encode(value), as: UTF8.self))
    }

    /// Left-aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
