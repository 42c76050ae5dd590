@testable import FoglineDash
import FoglineTesting
import Testing

/// A minimal VT100 screen: understands exactly what FrameWriter writes (CUP, ED 2, SGR, text),
/// and fails on anything else, so the tests see the screen a terminal would show.
struct ScreenModel {
    var size: TerminalSize
    var characters: [[Character]]
    var styles: [[CellStyle]]
    var row = 0, column = 0
    var style = CellStyle.plain

    init(size: TerminalSize) {
        self.size = size
        characters = Array(repeating: Array(repeating: " ", count: size.width), count: size.height)
        styles = Array(repeating: Array(repeating: .plain, count: size.width), count: size.height)
    }

    mutating func apply(_ output: String) throws {
        var scalars = Array(output.unicodeScalars)[...]
        while let scalar = scalars.first {
            scalars = scalars.dropFirst()
            guard scalar == "\u{1B}" else {
                guard row < size.height, column < size.width else { throw Unexpected(what: "text outside the screen at \(row),\(column)") }
                characters[row][column] = Character(scalar)
                styles[row][column] = style
                column += 1
                continue
            }
            guard scalars.first == "[" else { throw Unexpected(what: "ESC without [") }
            scalars = scalars.dropFirst()
            var parameters = ""
            while let next = scalars.first, next == ";" || ("0"..."9").contains(next) {
                parameters.unicodeScalars.append(next)
                scalars = scalars.dropFirst()
            }
            guard let final = scalars.first else { throw Unexpected(what: "unterminated sequence") }
            scalars = scalars.dropFirst()
            let numbers = parameters.split(separator: ";").map { Int($0)! }
            switch final {
            case "H":
                row = numbers[0] - 1
                column = numbers[1] - 1
            case "J":
                guard numbers == [2] else { throw Unexpected(what: "ED \(numbers)") }
                self = ScreenModel(size: size)
            case "m":
                var new = CellStyle.plain
                for code in numbers {
                    switch code {
                    case 0: new = .plain
                    case 1: new.bold = true
                    case 2: new.dim = true
                    case 4: new.underline = true
                    case 7: new.reverse = true
                    case 30...37: new.foreground = DashColor(rawValue: UInt8(code - 30))
                    case 40...47: new.background = DashColor(rawValue: UInt8(code - 40))
                    default: throw Unexpected(what: "SGR \(code)")
                    }
                }
                style = new
            default:
                throw Unexpected(what: "CSI \(final)")
            }
        }
    }

    struct Unexpected: Error { var what: String }

    func matches(_ frame: Frame, colour: Bool) -> Bool {
        for row in 0..<size.height {
            for column in 0..<size.width {
                var expected = frame[row, column].style
                if !colour {
                    expected.foreground = nil
                    expected.background = nil
                }
                if characters[row][column] != frame[row, column].character || styles[row][column] != expected { return false }
            }
        }
        return true
    }
}

@Suite("cell-diff writer")
struct FrameWriterTests {
    let size = TerminalSize(width: 20, height: 5)

    func sample(_ text: String, style: CellStyle = CellStyle(foreground: .green, bold: true)) -> Frame {
        var frame = Frame(size: size)
        frame.put("header", row: 0, column: 0, style: CellStyle(reverse: true))
        frame.put(text, row: 2, column: 3, style: style)
        return frame
    }

    @Test("the first frame clears the screen and draws every non-blank cell")
    func firstFrame() throws {
        var writer = FrameWriter(colour: true)
        let output = writer.update(to: sample("hello"))
        #expect(output.hasPrefix("\u{1B}[0m\u{1B}[2J"))
        var screen = ScreenModel(size: size)
        try screen.apply(output)
        #expect(screen.matches(sample("hello"), colour: true))
    }

    @Test("an unchanged frame writes nothing")
    func unchanged() {
        var writer = FrameWriter(colour: true)
        _ = writer.update(to: sample("hello"))
        #expect(writer.update(to: sample("hello")).isEmpty)
    }

    @Test("one changed cell: one cursor move, its style, the character, a reset")
    func oneCell() {
        var writer = FrameWriter(colour: true)
        _ = writer.update(to: sample("hello"))
        let output = writer.update(to: sample("hallo"))
        #expect(output == "\u{1B}[3;5H\u{1B}[0;1;32ma\u{1B}[0m")
    }

    @Test("a style change alone rewrites the cells")
    func styleOnly() throws {
        var writer = FrameWriter(colour: true)
        _ = writer.update(to: sample("hello"))
        let output = writer.update(to: sample("hello", style: CellStyle(foreground: .red)))
        #expect(output.contains("hello"))
        #expect(!output.contains("header"))
    }

    @Test("changes close together are one run; far apart, two cursor moves")
    func runs() {
        var writer = FrameWriter(colour: false)
        var base = Frame(size: size)
        base.put("abcdefghijklmnopqrst", row: 1, column: 0)
        _ = writer.update(to: base)
        var near = base
        near.put("X", row: 1, column: 2)
        near.put("Y", row: 1, column: 5)
        let nearOutput = writer.update(to: near)
        #expect(nearOutput.components(separatedBy: "H").count - 1 == 1)
        #expect(nearOutput.contains("XdeY"))
        var far = near
        far.put("Z", row: 1, column: 0)
        far.put("W", row: 1, column: 19)
        #expect(writer.update(to: far).components(separatedBy: "H").count - 1 == 2)
    }

    @Test("a resize (another size) or invalidate() redraws from a cleared screen")
    func redraw() {
        var writer = FrameWriter(colour: true)
        _ = writer.update(to: sample("hello"))
        writer.invalidate()
        #expect(writer.update(to: sample("hello")).hasPrefix("\u{1B}[0m\u{1B}[2J"))
        var bigger = Frame(size: TerminalSize(width: 30, height: 6))
        bigger.put("x", row: 0, column: 0)
        #expect(writer.update(to: bigger).hasPrefix("\u{1B}[0m\u{1B}[2J"))
    }

    @Test("without colour no colour codes are written; bold and reverse stay")
    func noColour() throws {
        var writer = FrameWriter(colour: false)
        let output = writer.update(to: sample("hello"))
        #expect(!output.contains(";32") && !output.contains("[32"))
        #expect(output.contains("\u{1B}[0;1m"))
        var screen = ScreenModel(size: size)
        try screen.apply(output)
        #expect(screen.matches(sample("hello"), colour: false))
    }

    @Test("random frame sequences: applying each difference to the screen shows exactly the new frame")
    func randomSequences() throws {
        var generator = SeededRandom(seed: 0xDA5B)
        let palette: [Character] = [" ", " ", " ", "a", "b", "─", "█", "▁", "●", "x"]
        let styles: [CellStyle] = [.plain, CellStyle(bold: true), CellStyle(foreground: .red), CellStyle(foreground: .cyan, reverse: true),
            CellStyle(dim: true, underline: true), CellStyle(background: .blue)]
        for colour in [true, false] {
            var writer = FrameWriter(colour: colour)
            var screen = ScreenModel(size: size)
            var frame = Frame(size: size)
            for step in 0..<200 {
                // Change a few cells each step (sometimes many), as refreshes do.
                let changes = step % 17 == 0 ? 60 : Int(generator.next() % 6)
                for _ in 0..<changes {
                    let row = Int(generator.next() % UInt64(size.height)), column = Int(generator.next() % UInt64(size.width))
                    frame[row, column] = Cell(
                        palette[Int(generator.next() % UInt64(palette.count))], style: styles[Int(generator.next() % UInt64(styles.count))])
                }
                try screen.apply(writer.update(to: frame))
                #expect(screen.matches(frame, colour: colour), "step \(step), colour \(colour)")
            }
        }
    }
}

