extension Formatted {
    private static let byteUnits = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]

    /// `512 B`, `1.5 KiB`, `16.0 MiB`, `2.3 GiB`: binary units, as the repository counts its sizes, one decimal
    /// above a KiB. Negative counts keep their sign.
    public static func bytes(_ count: Int64) -> String {
        let sign = count < 0 ? "-" : ""
        let magnitude = count.magnitude
        if magnitude < 1024 { return "\(count) B" }
        var value = Double(magnitude)
        var unit = 0
        // 1023.96 KiB would print as "1024.0 KiB": move up a unit once the rounded value reaches 1024.
        while value >= 1023.95 && unit < byteUnits.count - 1 {
            value /= 1024
            unit += 1
        }
        return sign + String(format: "%.1f", value) + " " + byteUnits[unit]
    }

    /// `48.2 MiB/s`.
    public static func rate(_ bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite, bytesPerSecond > 0 else { return "0 B/s" }
        return bytes(Int64(min(bytesPerSecond, Double(Int64.max / 2)))) + "/s"
    }
}
