import Foundation
import LifeboatCore
import Repository
#if canImport(Glibc)
import Glibc
#endif

/// What a restored server needs to recover: the WAL that makes the backup consistent, and its recovery settings.
extension Restore {
    /// Puts the segments that make the backup consistent into `pg_wal`, from the archive, checked.
    static func copyArchivedWAL(_ manifest: BackupManifest, into folder: String, repository: BackupRepository,
                                owner: (uid: uid_t, gid: gid_t)?) throws {
        for name in manifest.walSegments {
            let contents: [UInt8]?
            do {
                contents = try repository.fetchWAL(name: name, cluster: manifest.systemIdentifier)
            } catch {
                throw RestoreError(description: "backup \(manifest.id), WAL \(name): \(error.message)", damaged: true)
            }
            guard let contents else {
                throw RestoreError(description: "backup \(manifest.id) needs WAL segment \(name), which is not in the archive",
                                   damaged: true)
            }
            let path = folder + "/" + name
            guard FileManager.default.createFile(atPath: path, contents: Data(contents),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw RestoreError(description: "cannot write \(path)", damaged: false)
            }
            try chown(path, owner)
        }
    }

    /// Appends the recovery settings to `postgresql.auto.conf` (the restore command, the target, the timeline,
    /// and `archive_mode = off` unless the backup's setting is to be kept) and creates `recovery.signal`.
    static func writeRecoverySettings(manifest: BackupManifest, timeline: UInt32?, options: Options) throws {
        // postgresql.conf strings: a backslash escapes, a quote is doubled.
        func quote(_ text: String) -> String {
            "'" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
        }
        var lines = ["", "# Written by lifeboat restore of backup \(manifest.id) (cluster \(manifest.systemIdentifier))"]
        if options.archiveMode == .off {
            lines.append("# A restored copy must not archive into the repository it came from "
                + "(lifeboat restore --archive-mode preserve keeps the backup's archive settings).")
            lines.append("archive_mode = 'off'")
        }
        guard let command = options.restoreCommand else {
            if options.target != .latest {
                throw RestoreError(description: "a recovery target needs a restore command (WAL from the archive)",
                                   damaged: false)
            }
            try appendAutoConf(lines, options: options)
            return
        }
        lines.append("restore_command = \(quote(command))")
        if let end = options.recoveryEndCommand { lines.append("recovery_end_command = \(quote(end))") }
        switch options.target {
        case .latest: break
        case .immediate: lines.append("recovery_target = 'immediate'")
        case .time(let time): lines.append("recovery_target_time = \(quote(time))")
        case .lsn(let lsn): lines.append("recovery_target_lsn = \(quote(lsn))")
        case .name(let name): lines.append("recovery_target_name = \(quote(name))")
        }
        if options.target != .latest { lines.append("recovery_target_action = 'promote'") }
        if timeline != nil {
            lines.append("# Another timeline branches off this one's history in the archive; remove this line before "
                + "making standbys of this server.")
        }
        lines.append("recovery_target_timeline = \(quote(timeline.map(String.init) ?? "latest"))")
        try appendAutoConf(lines, options: options)
        let signal = options.destination + "/recovery.signal"
        guard FileManager.default.createFile(atPath: signal, contents: Data(), attributes: [.posixPermissions: 0o600]) else {
            throw RestoreError(description: "cannot create \(signal)", damaged: false)
        }
        try chown(signal, options.owner)
    }

    /// Recovery settings and the value that leaves each one unset. A restore names every one of them at the end
    /// of `postgresql.auto.conf` (PostgreSQL takes the last occurrence), so that settings an earlier restore left in
    /// the backup's configuration (of the server the backup was taken of) cannot stop or steer this recovery.
    static let neutralRecoverySettings: [(String, String)] = [
        ("restore_command", ""), ("recovery_target", ""), ("recovery_target_name", ""), ("recovery_target_time", ""),
        ("recovery_target_xid", ""), ("recovery_target_lsn", ""), ("recovery_target_inclusive", "on"),
        ("recovery_target_action", "pause"), ("recovery_end_command", ""), ("archive_cleanup_command", ""),
    ]

    static func appendAutoConf(_ lines: [String], options: Options) throws {
        let autoConf = options.destination + "/postgresql.auto.conf"
        let written = Set(lines.compactMap { line in line.split(separator: " ").first.map(String.init) })
        let neutral = neutralRecoverySettings.filter { !written.contains($0.0) }.map { "\($0.0) = '\($0.1)'" }
        let handle = FileHandle(forWritingAtPath: autoConf)
        guard let handle else { throw RestoreError(description: "cannot open \(autoConf)", damaged: false) }
        try handle.seekToEnd()
        let header = Array(lines.prefix { $0.isEmpty || $0.hasPrefix("#") })
        let body = (header + neutral + lines.dropFirst(header.count)).joined(separator: "\n")
        try handle.write(contentsOf: Data(("\n" + body + "\n").utf8))
        try handle.close()
    }
}
