import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// Tablespaces restored somewhere else than where they were backed up.
extension Restore {
    /// Points `tablespace_map` at the new locations (PostgreSQL recreates `pg_tblspc` links from it).
    static func rewriteTablespaceMap(_ destination: String, locations: [String: String],
                                             owner: (uid: uid_t, gid: gid_t)?) throws {
        let path = destination + "/tablespace_map"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RestoreError(description: "cannot read \(path) to point it at the new tablespace locations: \(error.localizedDescription)",
                               damaged: false)
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let oid = String(line.prefix { $0 != " " })
            guard !oid.isEmpty, let location = locations[oid] else { return String(line) }
            return oid + " " + location
        }
        do {
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw RestoreError(description: "cannot rewrite \(path): \(error)", damaged: false)
        }
        chmod(path, 0o600)
        try chown(path, owner)
    }
}
