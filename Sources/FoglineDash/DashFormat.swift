public import FoglineWire

/// How the dashboard writes times, durations and values. Times are UTC, so a frame is the same
/// wherever it is drawn (and snapshots do not depend on the machine's zone).
public enum DashFormat {
    /// `HH:MM:SS` of a Unix-milliseconds time, UTC.
    public static func clock(_ ms: UInt64) -> String {
        let seconds = ms / 1_000
        let (hours, minutes, secs) = ((seconds / 3_600) % 24, (seconds / 60) % 60, seconds % 60)
        return "\(twoDigits(hours)):\(twoDigits(minutes)):\(twoDigits(secs))"
    }

    /// A duration as `850ms`, `12s`, `3m12s`, `2h05m` or `3d04h`.
    public static func duration(_ ms: UInt64) -> String {
        if ms < 1_000 { return "\(ms)ms" }
        let seconds = ms / 1_000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3_600 { return "\(seconds / 60)m\(twoDigits(seconds % 60))s" }
        if seconds < 86_400 { return "\(seconds / 3_600)h\(twoDigits((seconds / 60) % 60))m" }
        return "\(seconds / 86_400)d\(twoDigits((seconds / 3_600) % 24))h"
    }

    /// A signed duration (an HLC ahead of the aggregator is negative: `-1.2s`).
    public static func signedDuration(_ ms: Int64) -> String {
        ms < 0 ? "-" + duration(UInt64(-ms)) : duration(UInt64(ms))
    }

    /// How long ago `then` was (`?` when unknown; `0ms` for a time ahead of now).
    public static func age(_ now: UInt64, _ then: UInt64?) -> String {
        guard let then else { return "?" }
        return duration(now > then ? now - then : 0)
    }

    /// A number with at most two decimals, no trailing zeros: `22`, `21.5`, `0.33`.
    public static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded(), rounded.magnitude < 1e15 { return String(Int64(rounded)) }
        return "\(rounded)"
    }

    /// A twin value as text: numbers as ``number(_:)``, strings bare, `true`/`false`/`null`.
    public static func scalar(_ value: JSONValue?) -> String {
        switch value {
        case nil: "-"
        case .number(let value)?: number(value)
        case .string(let text)?: Frame.displaySafe(text)
        case .bool(let flag)?: flag ? "true" : "false"
        case .null?: "null"
        case let other?: Frame.displaySafe(other.serializedString())
        }
    }

    /// `text` cut to `width` columns, ending in `ellipsis` when cut.
    public static func fit(_ text: String, _ width: Int, ellipsis: Character = "…") -> String {
        guard width > 0 else { return "" }
        guard text.count > width else { return text }
        return String(text.prefix(width - 1)) + String(ellipsis)
    }

    /// `text` padded with spaces to `width` (cut when longer), on the right or the left.
    public static func pad(_ text: String, _ width: Int, right: Bool = false, ellipsis: Character = "…") -> String {
        let cut = fit(text, width, ellipsis: ellipsis)
        let padding = String(repeating: " ", count: max(0, width - cut.count))
        return right ? padding + cut : cut + padding
    }

    /// A sparkline of `values` in at most `width` cells (the newest values), scaled between their
    /// minimum and maximum.
    public static func sparkline(_ values: [Double], width: Int, glyphs: Glyphs) -> String {
        let shown = values.suffix(max(0, width))
        guard let low = shown.min(), let high = shown.max() else { return "" }
        let top = glyphs.levels.count - 1
        return String(shown.map { value -> Character in
            guard high > low else { return glyphs.levels[top / 2] }
            let level = Int(((value - low) / (high - low) * Double(top)).rounded())
            return glyphs.levels[min(max(0, level), top)]
        })
    }

    private static func twoDigits(_ value: UInt64) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
