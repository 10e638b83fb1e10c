/// A length of time written the way people write it: `500ms`, `90s`, `15m`, `1h`, `1h30m`, `2d`, `1w`.
public struct PlanDuration: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Whole milliseconds.
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }
    public init(seconds: Double) { self.milliseconds = Int64((seconds * 1000).rounded()) }

    public var seconds: Double { Double(milliseconds) / 1000 }
    public var duration: Duration { .milliseconds(milliseconds) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.milliseconds < rhs.milliseconds }

    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]

    /// Parses `1h30m`-style text. Returns nil for anything else (a bare number has no unit and is refused).
    public init?(parsing text: String) {
        let scalars = Array(text.trimmingSpaces.unicodeScalars)
        guard !scalars.isEmpty else { return nil }
        var index = 0
        var total: Int64 = 0
        var lastUnitRank = Int.max
        while index < scalars.count {
            var number: Int64 = 0
            let start = index
            while index < scalars.count, let digit = scalars[index].decimalDigit {
                let (scaled, overflow1) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = scaled.addingReportingOverflow(Int64(digit))
                if overflow1 || overflow2 { return nil }
                number = sum
                index += 1
            }
            guard index > start else { return nil }
            var unit = ""
            while index < scalars.count, scalars[index].properties.isAlphabetic {
                unit.unicodeScalars.append(scalars[index])
                index += 1
            }
            guard let rank = Self.units.firstIndex(where: { $0.suffix == unit }) else { return nil }
            // Units must go from large to small, each once: `1h30m`, not `30m1h`.
            guard rank < lastUnitRank || lastUnitRank == Int.max else { return nil }
            lastUnitRank = rank
            let (part, overflow) = number.multipliedReportingOverflow(by: Self.units[rank].milliseconds)
            if overflow { return nil }
            total += part
        }
        self.milliseconds = total
    }

    /// The shortest text that reads back to the same value, e.g. `1h30m`, `90s` is shown as `1m30s`.
    public var description: String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var text = ""
        for (suffix, size) in Self.units.reversed() where suffix != "w" {
            if rest >= size {
                text += "\(rest / size)\(suffix)"
                rest %= size
            }
        }
        return text
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = PlanDuration(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad duration"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Unicode.Scalar {
    var decimalDigit: Int? {
        (48...57).contains(value) ? Int(value - 48) : nil
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text = text.dropFirst() }
        while text.last?.isWhitespace == true { text = text.dropLast() }
        return String(text)
    }
}
