/// The characters the dashboard draws with: Unicode box drawing and blocks, or plain ASCII
/// (`--ascii`, or a locale that is not UTF-8) for terminals and fonts without them.
public struct Glyphs: Sendable, Equatable {
    public var horizontal: Character
    public var vertical: Character
    public var topLeft: Character
    public var topRight: Character
    public var bottomLeft: Character
    public var bottomRight: Character
    /// Sparkline and chart levels, lowest first (the first is the lowest non-empty level).
    public var levels: [Character]
    /// A full chart cell.
    public var full: Character
    public var online: Character
    public var offline: Character
    public var ellipsis: Character
    public var pending: Character
    public var inSync: Character
    public var separator: Character
    public var breadcrumb: String

    public static let unicode = Glyphs(
        horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘",
        levels: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"], full: "█", online: "●", offline: "○", ellipsis: "…",
        pending: "≠", inSync: "=", separator: "│", breadcrumb: " › ")

    public static let ascii = Glyphs(
        horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+",
        levels: ["_", "_", ".", ".", "-", "-", "=", "#"], full: "#", online: "*", offline: "o", ellipsis: "~",
        pending: "!", inSync: "=", separator: "|", breadcrumb: " > ")
}
