import Foundation

/// How Lifeboat writes lengths of time, sizes and instants for people: one style in every command, report,
/// notification and log line.
public enum Formatted {
    /// `0s`, `0.035s`, `0.4s`, `14.237s` below a minute (to the millisecond), then `3m20s`, `1h2m`, `2d3h`
    /// (whole seconds below an hour, whole minutes below a day, whole hours above). Above a minute the text is
    /// also a valid plan duration. Negative or non-finite values are shown as `0s`.
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds > 0 else { return "0s" }
        let milliseconds = (seconds * 1000).rounded()
        if milliseconds < 60_000 {
            var text = String(format: "%.3f", milliseconds / 1000)
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
            return text + "s"
        }
        let whole = Int64(min(seconds.rounded(), Double(Int64.max / 2)))
        func parts(_ big: Int64, _ bigUnit: String, _ small: Int64, _ smallUnit: String) -> String {
            small == 0 ? "\(big)\(bigUnit)" : "\(big)\(bigUnit)\(small)\(smallUnit)"
        }
        if whole < 3600 { return parts(whole / 60, "m", whole % 60, "s") }
        let minutes = (whole + 30) / 60
        if minutes < 24 * 60 { return parts(minutes / 60, "h", minutes % 60, "m") }
        let hours = (whole + 1800) / 3600
        return parts(hours / 24, "d", hours % 24, "h")
    }

    /// ``duration(_:)`` of a Swift `Duration`.
    public static func duration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return self.duration(Double(seconds) + Double(attoseconds) / 1e18)
    }
}
