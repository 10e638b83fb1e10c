import Foundation
import Plans
import Postgres
import Repository
import LifeboatCore

/// `postgres.backup`: a base backup of an inventory database into an inventory repository.
enum PostgresBackupStep {
    static let schema = StepSchema(
        name: "postgres.backup",
        summary: "take a compressed, encrypted, deduplicated base backup of a PostgreSQL server",
        parameters: [
            ParameterSpec("database", .reference(.databases), required: true),
            ParameterSpec("repository", .reference(.repositories), required: true),
            ParameterSpec("checkpoint", .choice(["fast", "spread"]), "fast (default) or spread"),
            ParameterSpec("mode", .choice(["stream", "local"]),
                          "stream (default, BASE_BACKUP) or local (on the database host, skips unchanged files)"),
            ParameterSpec("full_read", .boolean, "local mode: read every file, also those unchanged since the previous backup"),
        ],
        example: "    with: { database: orders, repository: primary }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let database = try context.inventoryEntry(.databases, "database")
        let repositoryEntry = try context.inventoryEntry(.repositories, "repository")
        let conninfo = try Conninfo.build(database, secrets: context.secrets)
        let repository = try RepositoryAccess.open(repositoryEntry, secrets: context.secrets)
        let fast = context.step.parameters["checkpoint"]?.stringValue?.literalValue != "spread"
        let local = context.step.parameters["mode"]?.stringValue?.literalValue == "local"
        let fullRead = context.step.parameters["full_read"]?.booleanValue == true
        let output = context.output
        let manifest = try await Blocking.run { stop in
            if local {
                var options = LocalBackup.Options(conninfo: conninfo, source: database.name)
                options.fastCheckpoint = fast
                options.reuseUnchanged = !fullRead
                options.note = { output.note("warning: \($0)") }
                options.shouldStop = { stop.isSet }
                return try LocalBackup.run(into: repository, options: options)
            }
            var options = BaseBackup.Options(conninfo: conninfo, source: database.name)
            options.fastCheckpoint = fast
            options.shouldStop = { stop.isSet }
            return try BaseBackup.run(into: repository, options: options)
        }
        let stats = manifest.statistics
        context.output.note("backup \(manifest.id) of \(database.name) into \(repositoryEntry.name): "
            + "\(stats.logicalBytes) bytes in \(stats.files) files, \(stats.newChunks) of \(stats.chunks) chunks new "
            + "(\(stats.newStoredBytes) bytes stored), LSN \(manifest.startLSN) to \(manifest.stopLSN)")
    }
}

/// `repository.expire`: apply a retention policy to an inventory repository.
enum RepositoryExpireStep {
    static let keepFields = ["last", "daily", "weekly", "monthly", "yearly"].map { ParameterSpec($0, .integer(0...10_000)) }

    static let schema = StepSchema(
        name: "repository.expire",
        summary: "remove backups a retention policy does not keep, the WAL only they needed, and unused chunks",
        parameters: [
            ParameterSpec("repository", .reference(.repositories), required: true),
            ParameterSpec("keep", .object(keepFields), required: true,
                          "how many backups of each cluster to keep, e.g. {daily: 7, weekly: 4}"),
            ParameterSpec("database", .reference(.databases),
                          "only this database's cluster (default: every cluster in the repository, each kept by the policy)"),
        ],
        example: "    with: { repository: primary, keep: { daily: 7, weekly: 4, monthly: 12 } }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let entry = try context.inventoryEntry(.repositories, "repository")
        let keep = context.step.parameters["keep"]
        let policy = RetentionPolicy(last: keep?["last"]?.integerValue, daily: keep?["daily"]?.integerValue,
                                     weekly: keep?["weekly"]?.integerValue, monthly: keep?["monthly"]?.integerValue,
                                     yearly: keep?["yearly"]?.integerValue)
        let repository = try RepositoryAccess.open(entry, secrets: context.secrets)
        let database = context.step.parameters["database"] == nil ? nil : try context.inventoryEntry(.databases, "database")
        let secrets = context.secrets
        let report = try await Blocking.run { _ in
            let cluster = try database.map { try ClusterLookup.cluster(of: $0, secrets: secrets, in: repository).cluster }
            return try repository.expire(policy, cluster: cluster?.systemIdentifier)
        }
        for cluster in report.clusters {
            context.output.note("\(cluster.name) (\(cluster.systemIdentifier)): kept \(cluster.kept.count) backups, "
                + "removed \(cluster.removed.count)" + (cluster.removed.isEmpty ? "" : " (\(cluster.removed.joined(separator: ", ")))")
                + " and \(cluster.walRemoved) WAL files")
        }
        context.output.note("kept \(report.kept.count) backups, removed \(report.removed.count)"
            + ", \(report.walRemoved) WAL files and \(report.garbage?.chunksRemoved ?? 0) chunks")
    }
}

extension StepContext {
    /// The inventory entry a reference parameter names (checked when the plan was loaded).
    func inventoryEntry(_ kind: InventoryKind, _ parameter: String) throws -> InventoryEntry {
        guard let name = step.parameters[parameter]?.referenceName, let entry = plan.inventory.entry(kind, name) else {
            throw LifeboatError(.invalidInput, "step '\(step.id)' names no \(kind.noun) in '\(parameter)'")
        }
        return entry
    }
}

/// libpq connection strings from inventory databases.
enum Conninfo {
    static func build(_ entry: InventoryEntry, secrets: SecretResolver) throws -> String {
        var parts: [String] = []
        for key in ["host", "port", "user", "dbname", "password", "sslmode"] {
            guard let value = entry.fields[key] else { continue }
            let text: String
            if let template = value.stringValue {
                text = try secrets.resolve(template)
            } else if let number = value.integerValue {
                text = String(number)
            } else {
                continue
            }
            parts.append("\(key)=\(quote(text))")
        }
        return parts.joined(separator: " ")
    }

    /// libpq quoting: single quotes around the value, backslash before `'` and `\`.
    static func quote(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

/// `repository.copy`: copy backups and WAL the destination lacks (an offsite copy of a local repository).
enum RepositoryCopyStep {
    static let schema = StepSchema(
        name: "repository.copy",
        summary: "copy the backups and WAL another repository lacks (e.g. local to offsite object storage)",
        parameters: [
            ParameterSpec("from", .reference(.repositories), required: true),
            ParameterSpec("to", .reference(.repositories), required: true),
        ],
        example: "    with: { from: local, to: offsite }"
    )

    static let type = StepType(schema: schema) { context in try await run(context) }

    static func run(_ context: StepContext) async throws {
        let from = try context.inventoryEntry(.repositories, "from")
        let to = try context.inventoryEntry(.repositories, "to")
        guard from.name != to.name else {
            throw LifeboatError(.invalidInput, "step '\(context.step.id)' copies repository '\(from.name)' to itself")
        }
        let source = try RepositoryAccess.open(from, secrets: context.secrets)
        let destination = try RepositoryAccess.open(to, secrets: context.secrets)
        let report = try await Blocking.run { _ in
            try source.copy(to: destination)
        }
        context.output.note("copied \(report.backupsCopied.count) backups to \(to.name) "
            + "(\(report.chunksCopied) chunks, \(report.walCopied) WAL files, \(report.bundlesCopied) git bundles, "
            + "\(report.bytesWritten) bytes written"
            + (report.reencrypted ? ", re-encrypted" : "") + "); \(report.backupsPresent) were there already")
    }
}
