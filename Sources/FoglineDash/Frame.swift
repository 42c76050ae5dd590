/// The size of a terminal (or of a frame), in character cells.
public struct TerminalSize: Hashable, Sendable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
    }

    /// The smallest size the dashboard lays out for; smaller terminals get a "too small" notice.
    public static let minimum = TerminalSize(width: 80, height: 24)
    /// Below this nothing but a request to enlarge the terminal is drawn (80×24 shows every column).
    public static let smallestDrawn = TerminalSize(width: 40, height: 10)

    public var description: String { "\(width)x\(height)" }

    /// Parses `WIDTHxHEIGHT` (as `--size` takes it), e.g. `120x40`.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), width > 0, height > 0 else { return nil }
        self.init(width: width, height: height)
    }
}

/// A colour of the 8-colour ANSI palette, which every terminal has.
public enum DashColor: UInt8, Hashable, Sendable {
    case black = 0, red, green, yellow, blue, magenta, cyan, white
}

/// How a cell is drawn. Colour is a hint: the writer drops it under `NO_COLOR`, so anything that
/// matters (a pending difference, an offline device) is also visible in the text itself.
public struct CellStyle: Hashable, Sendable {
    public var foreground: DashColor?
    public var background: DashColor?
    public var bold: Bool
    public var dim: Bool
    public var reverse: Bool
    public var underline: Bool

    public init(
        foreground: DashColor? = nil, background: DashColor? = nil, bold: Bool = false, dim: Bool = false, reverse: Bool = false,
        underline: Bool = false
    ) {
        self.foreground = foreground
        self.background = background
        self.bold = bold
        self.dim = dim
        self.reverse = reverse
        self.underline = underline
    }

    public static let plain = CellStyle()
}

/// One character cell: a character one column wide and its style.
public struct Cell: Hashable, Sendable {
    public var character: Character
    public var style: CellStyle

    public init(_ character: Character, style: CellStyle = .plain) {
        self.character = character
        self.style = style
    }

    public static let blank = Cell(" ")
}

/// A rectangle of a frame, in cells.
public struct Rect: Hashable, Sendable {
    public var row: Int
    public var column: Int
    public var width: Int
    public var height: Int

    public init(row: Int, column: Int, width: Int, height: Int) {
        self.row = row
        self.column = column
        self.width = max(0, width)
        self.height = max(0, height)
    }

}

/// What the dashboard shows on one refresh: a grid of cells. ``render(_:size:)`` produces it
/// without touching the terminal; ``FrameWriter`` turns the difference between two frames into
/// the escape sequences that update a terminal; ``text`` is the plain form (`--once`, snapshots).
///
/// Every character is assumed to take one column. Text from the aggregator goes through
/// ``displaySafe(_:)`` first, which replaces control characters and wide or combining characters,
/// so the grid and the terminal never disagree about where a column is.
public struct Frame: Equatable, Sendable {
    public let size: TerminalSize
    public private(set) var cells: [Cell]

    public init(size: TerminalSize) {
        self.size = size
        cells = Array(repeating: .blank, count: size.width * size.height)
    }

    public subscript(row: Int, column: Int) -> Cell {
        get { cells[row * size.width + column] }
        set {
            guard row >= 0, row < size.height, column >= 0, column < size.width else { return }
            cells[row * size.width + column] = newValue
        }
    }

    /// Writes `text` from (`row`, `column`), clipped to `maxWidth` columns and the frame; returns
    /// the number of columns written.
    @discardableResult
    public mutating func put(_ text: String, row: Int, column: Int, style: CellStyle = .plain, maxWidth: Int? = nil) -> Int {
        guard row >= 0, row < size.height else { return 0 }
        let limit = min(maxWidth ?? Int.max, size.width - column)
        var written = 0
        for character in text {
            guard written < limit else { break }
            if column + written >= 0 { self[row, column + written] = Cell(character, style: style) }
            written += 1
        }
        return max(0, written)
    }

    /// Sets the style of `width` cells from (`row`, `column`), filling with spaces first when `blank`.
    public mutating func fill(row: Int, column: Int, width: Int, style: CellStyle, blank: Bool = true) {
        guard row >= 0, row < size.height else { return }
        for index in max(0, column)..<max(max(0, column), min(size.width, column + width)) {
            if blank { self[row, index] = Cell(" ", style: style) } else { self[row, index].style = style }
        }
    }

    /// One line of the frame as text, trailing spaces kept.
    public func line(_ row: Int) -> String {
        String(cells[(row * size.width)..<((row + 1) * size.width)].map(\.character))
    }

    /// The frame as plain text: one line per row, trailing spaces trimmed, no styles.
    public var text: String {
        (0..<size.height).map { row in
            var line = Substring(line(row))
            while line.last == " " { line = line.dropLast() }
            return String(line)
        }.joined(separator: "\n") + "\n"
    }

    /// `text` with what a terminal could mis-measure or obey replaced by `?`: control characters,
    /// and characters that are wide or combine (anything at or above U+1100 other than the
    /// box-drawing, block and symbol ranges the dashboard draws with itself).
    public static func displaySafe(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            let scalars = character.unicodeScalars
            guard scalars.count == 1, let scalar = scalars.first else {
                result.append("?")
                continue
            }
            let value = scalar.value
            if value < 0x20 || (0x7F..<0xA0).contains(value) || value >= 0x1100 {
                result.append("?")
            } else {
                result.append(character)
            }
        }
        return result
    }
}
