/// A run of text in one style.
public struct Span: Equatable, Sendable {
    public var text: String
    public var style: CellStyle

    public init(_ text: String, _ style: CellStyle = .plain) {
        self.text = text
        self.style = style
    }
}

/// A column of a table: its title, the narrowest it may be, how much of the spare width it
/// takes, whether it is right-aligned, and which columns go first when even the minimums do not
/// fit (lowest `priority` first).
struct TableColumn {
    var title: String
    var minWidth: Int
    var weight: Int = 0
    var maxWidth: Int = .max
    var alignRight = false
    var priority = 10
}

/// A table in a box: title, header row, rows with one span per column, an optional selected row.
struct TableSpec {
    var title: String
    var columns: [TableColumn]
    var rows: [[Span]]
    var selected: Int?
    /// Shown in place of the rows when there are none.
    var empty: String
}

extension Frame {
    /// Column widths for `columns` in `width` cells, and the gap between columns. Columns that
    /// do not fit even at their minimum are dropped (width 0), lowest priority first.
    static func layout(_ columns: [TableColumn], width: Int) -> (widths: [Int], gap: Int) {
        var kept = Array(columns.indices)
        // Two spaces between columns when there is room to spare, else one.
        for gap in width >= 100 ? [2, 1] : [1] {
            kept = Array(columns.indices)
            while !kept.isEmpty {
                let needed = kept.reduce(0) { $0 + columns[$1].minWidth } + gap * (kept.count - 1)
                if needed <= width {
                    var widths = columns.indices.map { kept.contains($0) ? columns[$0].minWidth : 0 }
                    var spare = width - needed
                    let weights = kept.reduce(0) { $0 + columns[$1].weight }
                    if weights > 0 {
                        // Spare columns by weight, capped at each column's maximum; leftovers to the first flexible one.
                        for index in kept where columns[index].weight > 0 {
                            let share = min(spare * columns[index].weight / weights, columns[index].maxWidth - widths[index])
                            widths[index] += max(0, share)
                        }
                        spare = width - widths.reduce(0, +) - gap * (kept.count - 1)
                        if let flexible = kept.first(where: { columns[$0].weight > 0 && widths[$0] < columns[$0].maxWidth }) {
                            widths[flexible] += max(0, spare)
                        }
                    }
                    return (widths, gap)
                }
                if gap == 2 { break }  // try the narrower gap before dropping anything
                let drop = kept.min { (columns[$0].priority, -$0) < (columns[$1].priority, -$1) }!
                kept.removeAll { $0 == drop }
            }
        }
        return (columns.map { _ in 0 }, 1)
    }

    /// Draws a box with `title` in its top border.
    mutating func box(_ rect: Rect, title: String, glyphs: Glyphs, style: CellStyle = CellStyle(foreground: .blue)) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let right = rect.column + rect.width - 1, bottom = rect.row + rect.height - 1
        for column in rect.column...right {
            self[rect.row, column] = Cell(glyphs.horizontal, style: style)
            self[bottom, column] = Cell(glyphs.horizontal, style: style)
        }
        for row in rect.row...bottom {
            self[row, rect.column] = Cell(glyphs.vertical, style: style)
            self[row, right] = Cell(glyphs.vertical, style: style)
        }
        self[rect.row, rect.column] = Cell(glyphs.topLeft, style: style)
        self[rect.row, right] = Cell(glyphs.topRight, style: style)
        self[bottom, rect.column] = Cell(glyphs.bottomLeft, style: style)
        self[bottom, right] = Cell(glyphs.bottomRight, style: style)
        if !title.isEmpty, rect.width > 6 {
            put(" " + DashFormat.fit(title, rect.width - 6, ellipsis: glyphs.ellipsis) + " ", row: rect.row, column: rect.column + 2,
                style: CellStyle(bold: true))
        }
    }

    /// Writes spans left to right from (`row`, `column`) within `width`; returns the columns used.
    @discardableResult
    mutating func put(_ spans: [Span], row: Int, column: Int, width: Int) -> Int {
        var used = 0
        for span in spans where used < width {
            used += put(span.text, row: row, column: column + used, style: span.style, maxWidth: width - used)
        }
        return used
    }

    /// Draws `table` in a box filling `rect`, scrolled so the selected row shows.
    mutating func table(_ table: TableSpec, in rect: Rect, glyphs: Glyphs) {
        box(rect, title: table.title, glyphs: glyphs)
        let inner = Rect(row: rect.row + 1, column: rect.column + 2, width: rect.width - 4, height: rect.height - 2)
        guard inner.height >= 1, inner.width >= 1 else { return }
        let (widths, gap) = Self.layout(table.columns, width: inner.width)
        func drawRow(_ spans: [Span], row: Int, header: Bool) {
            var column = inner.column
            for (index, spec) in table.columns.enumerated() where widths[index] > 0 {
                let span = index < spans.count ? spans[index] : Span("")
                let text = DashFormat.pad(span.text, widths[index], right: spec.alignRight, ellipsis: glyphs.ellipsis)
                put(text, row: row, column: column, style: header ? CellStyle(bold: true, underline: false) : span.style)
                column += widths[index] + gap
            }
        }
        drawRow(table.columns.map { Span($0.title) }, row: inner.row, header: true)
        let capacity = inner.height - 1
        guard capacity > 0 else { return }
        guard !table.rows.isEmpty else {
            put(DashFormat.fit(table.empty, inner.width, ellipsis: glyphs.ellipsis), row: inner.row + 1, column: inner.column,
                style: CellStyle(dim: true))
            return
        }
        let top = max(0, min((table.selected ?? 0) - capacity + 1, table.rows.count - capacity))
        for (offset, rowSpans) in table.rows[top..<min(table.rows.count, top + capacity)].enumerated() {
            let row = inner.row + 1 + offset
            drawRow(rowSpans, row: row, header: false)
            if table.selected == top + offset {
                // The selection: reverse video over the whole inner width (the cue without colour).
                for column in (inner.column - 1)..<(inner.column + inner.width + 1) {
                    self[row, column].style.reverse = true
                }
            }
        }
        if table.rows.count > capacity {
            let position = "\(top + 1)-\(min(table.rows.count, top + capacity))/\(table.rows.count)"
            put(" \(position) ", row: rect.row + rect.height - 1, column: rect.column + rect.width - position.count - 4, style: CellStyle(dim: true))
        }
    }
}
