import Foundation
import Repository
import LifeboatCore

/// A backup as listings and `backup info` show it.
public struct BackupSummary: Encodable, Sendable {
    public var id: String
    /// The cluster's current name (what backups of it were last taken under).
    public var cluster: String
    public var source: String
    public var startTime: Date
    public var stopTime: Date
    public var seconds: Double
    public var startLSN: String
    public var stopLSN: String
    public var timeline: Int
    public var postgresVersion: Int
    public var systemIdentifier: String
    public var files: Int
    public var logicalBytes: Int64
    public var newStoredBytes: Int64
    public var chunks: Int
    public var newChunks: Int
    /// Bytes read from the server (less than logical when a local backup reused unchanged files).
    public var readBytes: Int64
    /// Logical bytes per second.
    public var throughput: Double
    public var walIncluded: Bool
    /// The first and last WAL segment the backup needs.
    public var walFirst: String?
    public var walLast: String?

    public init(_ manifest: BackupManifest, clusterName: String? = nil) {
        id = manifest.id
        cluster = clusterName ?? manifest.source
        source = manifest.source
        startTime = manifest.startTime
        stopTime = manifest.stopTime
        seconds = manifest.stopTime.timeIntervalSince(manifest.startTime)
        startLSN = manifest.startLSN
        stopLSN = manifest.stopLSN
        timeline = manifest.timeline
        postgresVersion = manifest.postgresVersion
        systemIdentifier = manifest.systemIdentifier
        files = manifest.statistics.files
        logicalBytes = manifest.statistics.logicalBytes
        newStoredBytes = manifest.statistics.newStoredBytes
        chunks = manifest.statistics.chunks
        newChunks = manifest.statistics.newChunks
        readBytes = manifest.statistics.readBytes ?? manifest.statistics.logicalBytes
        throughput = seconds > 0 ? Double(logicalBytes) / seconds : 0
        walIncluded = manifest.walIncluded
        walFirst = manifest.walSegments.first
        walLast = manifest.walSegments.last
    }

    public var text: String {
        """
            backup     \(id) of cluster \(cluster) (system identifier \(systemIdentifier)), taken as \(source)
            server     PostgreSQL \(postgresVersion / 10000).\(postgresVersion % 10000)
            time       \(startTime) to \(stopTime) (\(Formatted.duration(seconds)), \(Formatted.rate(throughput)))
            lsn        \(startLSN) to \(stopLSN) on timeline \(timeline)
            wal        \(walFirst ?? "-") to \(walLast ?? "-") (\(walIncluded ? "inside the backup" : "in the archive"))
            size       \(Formatted.bytes(logicalBytes)) in \(files) files; \(chunks) chunks, \(newChunks) new, \(Formatted.bytes(newStoredBytes)) stored
            """
    }
}
