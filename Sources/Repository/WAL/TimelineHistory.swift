/// A timeline history file (`00000003.history`): the timelines a timeline descends from and where it branched off
/// each, oldest first. PostgreSQL writes one line per ancestor: `parentTLI <tab> switchpoint LSN <tab> reason`.
public struct TimelineHistory: Sendable, Equatable {
    public struct Branch: Sendable, Equatable {
        /// The ancestor timeline.
        public var parent: UInt32
        /// Where the next timeline of the lineage branched off it: WAL of `parent` from here on is not part of it.
        public var switchpoint: UInt64
    }

    public var timeline: UInt32
    public var ancestors: [Branch]

    /// The timeline it branched off directly.
    public var parent: UInt32? { ancestors.last?.parent }

    /// Parses a history file's text. Nil when a line is not what PostgreSQL writes, or the ancestors do not go
    /// upwards to `timeline`: damage, never "no ancestors".
    public init?(timeline: UInt32, text: String) {
        self.timeline = timeline
        var ancestors: [Branch] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.drop { $0 == " " || $0 == "\t" }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = trimmed.split(maxSplits: 2, whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, let parent = UInt32(fields[0]), let switchpoint = WALRange.parse(String(fields[1]))
            else { return nil }
            if let previous = ancestors.last, previous.parent >= parent || previous.switchpoint > switchpoint { return nil }
            ancestors.append(Branch(parent: parent, switchpoint: switchpoint))
        }
        guard !ancestors.isEmpty, ancestors.last!.parent < timeline else { return nil }
        self.ancestors = ancestors
    }

    /// Whether a backup on `backupTimeline` that is consistent at `stopLSN` can recover onto this timeline: it is on
    /// an ancestor and was consistent before that ancestor's branch point (or it is on this timeline itself).
    public func contains(timeline backupTimeline: UInt32, at stopLSN: UInt64) -> Bool {
        if backupTimeline == timeline { return true }
        guard let branch = ancestors.first(where: { $0.parent == backupTimeline }) else { return false }
        return stopLSN <= branch.switchpoint
    }
}
