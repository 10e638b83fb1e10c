import Foundation
import LifeboatCore

/// Writes a drill report as `<run id>.json`, `.md` and `.html` into a folder.
public enum DrillReportFiles {
    /// Returns the paths written.
    public static func write(_ report: DrillReport, to folder: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
            var paths: [String] = []
            for (suffix, text) in [("json", report.json), ("md", report.markdown), ("html", report.html)] {
                let path = folder + "/drill-\(report.runId).\(suffix)"
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                paths.append(path)
            }
            return paths
        } catch {
            throw LifeboatError(.state, "cannot write the drill report into \(folder): \(error.localizedDescription)")
        }
    }
}
