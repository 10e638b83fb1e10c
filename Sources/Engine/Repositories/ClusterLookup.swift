import Foundation
import Plans
import Postgres
import Repository
import LifeboatCore

/// Which repository cluster an inventory database is: by the system identifier of the running server, else (when
/// it cannot be reached) by its inventory name among the names the cluster's backups were taken under.
public enum ClusterLookup {
    /// How a database was matched to its cluster.
    public enum Evidence: String, Sendable, Codable {
        /// The running server's system identifier.
        case systemIdentifier = "system_identifier"
        /// The server could not be reached; a cluster carries the database's name.
        case name
    }

    /// The running server's system identifier (`pg_control_system()`, else `IDENTIFY_SYSTEM` on a replication
    /// connection), or nil when the server cannot be reached within a few seconds — the one failure that sends the
    /// caller to the names backups were taken under (and the evidence says so). A server that answers but whose
    /// identifier cannot be read is an error, never "unreachable".
    public static func systemIdentifier(conninfo: String) throws -> String? {
        let quick = conninfo + " connect_timeout=5"
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection(conninfo: quick)
        } catch {
            return nil
        }
        defer { connection.close() }
        let sqlError: any Error
        do {
            if let value = try connection.query("SELECT system_identifier::text FROM pg_control_system()").scalar,
               SystemIdentifier.isValid(value) {
                return value
            }
            sqlError = LifeboatError(.runFailed, "pg_control_system() returned no system identifier")
        } catch {
            sqlError = error
        }
        // Reachable, but the function is not allowed to this user: IDENTIFY_SYSTEM needs only replication rights.
        do {
            let replication = try ReplicationConnection(conninfo: quick)
            defer { replication.close() }
            let identity = try replication.identifySystem()
            if SystemIdentifier.isValid(identity.systemIdentifier) { return identity.systemIdentifier }
            throw LifeboatError(.runFailed, "IDENTIFY_SYSTEM returned '\(identity.systemIdentifier)'")
        } catch {
            throw LifeboatError(.runFailed, "the server answers, but its system identifier cannot be read: \(sqlError); "
                + "over replication: \(error)",
                hint: "let the inventory's user run pg_control_system() or connect for replication")
        }
    }

    /// The running server's system identifier for an inventory database (its secrets resolved now).
    public static func systemIdentifier(of entry: InventoryEntry, secrets: SecretResolver) throws -> String? {
        try systemIdentifier(conninfo: Conninfo.build(entry, secrets: secrets))
    }

    /// The cluster of the database `name` among `clusters`: the one with the running server's system identifier
    /// (`liveIdentifier`) when given, else the only one carrying the name. Nil when none matches; several clusters
    /// carrying the name is an error (which one is meant cannot be told).
    public static func match(database name: String, liveIdentifier: String?, in clusters: [ClusterSummary])
        throws -> (cluster: ClusterSummary, evidence: Evidence)? {
        if let liveIdentifier {
            return clusters.first { $0.systemIdentifier == liveIdentifier }.map { ($0, .systemIdentifier) }
        }
        let named = clusters.filter { $0.names.contains(name) }
        guard named.count <= 1 else {
            throw LifeboatError(.invalidInput, "\(name) cannot be reached, and \(named.count) clusters carry its name: "
                + named.map(\.label).joined(separator: ", "), hint: "start the server, or name the cluster by its system identifier")
        }
        return named.first.map { ($0, .name) }
    }

    /// The cluster of an inventory database in `repository` (see `match`); an error naming what was tried when none.
    public static func cluster(of entry: InventoryEntry, secrets: SecretResolver, in repository: BackupRepository,
                               withBackups: Bool = true) throws -> (cluster: ClusterSummary, evidence: Evidence) {
        let all = try repository.clusters()
        let clusters = withBackups ? all.filter { $0.backups > 0 } : all
        let live = try systemIdentifier(of: entry, secrets: secrets)
        if let found = try match(database: entry.name, liveIdentifier: live, in: clusters) { return found }
        let known = clusters.map(\.label).joined(separator: ", ")
        if let live {
            throw LifeboatError(.runFailed, "repository \(repository.location) has no backup of \(entry.name) (cluster \(live))",
                                hint: known.isEmpty ? "run the backup plan first" : "it holds: \(known)")
        }
        throw LifeboatError(.runFailed, "\(entry.name) cannot be reached, and no cluster in \(repository.location) carries its name",
                            hint: known.isEmpty ? "run the backup plan first" : "it holds: \(known)")
    }
}
