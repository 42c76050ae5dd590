/// Turns frames into terminal output, writing only the cells that changed since the frame before
/// (what keeps four refreshes a second flicker-free, even over SSH).
///
/// Pure: it returns the bytes; ``Terminal`` writes them. The output uses only sequences every
/// VT100-descended terminal knows: cursor position (CUP), erase display (ED 2) and SGR (reset,
/// bold, dim, underline, reverse, the 8 colours).
public struct FrameWriter: Sendable {
    /// Whether colours are written (`false` under `NO_COLOR`; bold, dim and reverse stay).
    public var colour: Bool
    /// The frame the terminal shows, as far as this writer knows; `nil` forces a full redraw.
    public private(set) var previous: Frame?

    public init(colour: Bool) {
        self.colour = colour
    }

    /// The output that brings the terminal from ``previous`` to `frame`; `frame` becomes ``previous``.
    public mutating func update(to frame: Frame) -> String {
        let output = Self.difference(from: previous, to: frame, colour: colour)
        previous = frame
        return output
    }

    /// Forgets what the terminal shows (after a resize, or when something else wrote to it), so
    /// the next ``update(to:)`` clears the screen and draws every cell.
    public mutating func invalidate() {
        previous = nil
    }

    /// Unchanged cells between two changed ones that are rewritten rather than skipped with a
    /// cursor move (a move costs about as many bytes).
    static let mergeGap = 4

    /// The output that brings a terminal showing `old` to `new`. Without `old`, or when the size
    /// changed, it clears the screen and draws every non-blank cell.
    public static func difference(from old: Frame?, to new: Frame, colour: Bool) -> String {
        var output = ""
        var current: CellStyle? = nil
        let width = new.size.width
        let redraw = old == nil || old?.size != new.size
        if redraw { output += "\u{1B}[0m\u{1B}[2J" }
        current = redraw ? .plain : nil
        for row in 0..<new.size.height {
            // Runs of changed cells in this row, joined across short unchanged stretches.
            var runs: [Range<Int>] = []
            var column = 0
            while column < width {
                let changed = redraw ? new[row, column] != .blank : old![row, column] != new[row, column]
                if changed {
                    if let last = runs.last, column - last.upperBound <= mergeGap {
                        runs[runs.count - 1] = last.lowerBound..<(column + 1)
                    } else {
                        runs.append(column..<(column + 1))
                    }
                }
                column += 1
            }
            for run in runs {
                output += "\u{1B}[\(row + 1);\(run.lowerBound + 1)H"
                for column in run {
                    let cell = new[row, column]
                    if cell.style != current {
                        output += sgr(cell.style, colour: colour)
                        current = cell.style
                    }
                    output.append(cell.character)
                }
            }
        }
        if current != nil, current != .plain { output += "\u{1B}[0m" }
        return output
    }

    /// The SGR sequence for `style`, starting from a reset so no attribute leaks from the cell before.
    static func sgr(_ style: CellStyle, colour: Bool) -> String {
        var codes = ["0"]
        if style.bold { codes.append("1") }
        if style.dim { codes.append("2") }
        if style.underline { codes.append("4") }
        if style.reverse { codes.append("7") }
        if colour, let foreground = style.foreground { codes.append("3\(foreground.rawValue)") }
        if colour, let background = style.background { codes.append("4\(background.rawValue)") }
        return "\u{1B}[" + codes.joined(separator: ";") + "m"
    }
}
