#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The terminal backend: termios raw mode and ANSI escape sequences of our own, not ncurses.
// Why: no C library dependency to install, link and wrap (libncurses-dev), nothing that owns the
// screen behind our back, and the cell-diff writer (``FrameWriter``) — the part ncurses would
// have provided — is small and pure, so it is unit-tested like the rest. What ncurses adds on top
// (terminfo for exotic terminals) is not needed for the xterm-compatible terminals operators use
// over SSH; the sequences written are the VT100/xterm ones every one of them knows.

/// Saved settings and the wake-up pipe, global because signal handlers may only reach globals.
/// Written once before the handlers are installed, read by them.
nonisolated(unsafe) private var savedSettings = termios()
nonisolated(unsafe) private var terminalActive = false
nonisolated(unsafe) private var wakeWriteDescriptor: Int32 = -1
nonisolated(unsafe) private var resized: sig_atomic_t = 0

/// What undoes raw mode and the alternate screen (reset attributes, autowrap on, cursor shown,
/// main screen back).
private let restoreSequence: [UInt8] = Array("\u{1B}[0m\u{1B}[?7h\u{1B}[?25h\u{1B}[?1049l".utf8)

/// Async-signal-safe: write(2) and tcsetattr(3) only.
private func restoreTerminal() {
    guard terminalActive else { return }
    terminalActive = false
    _ = restoreSequence.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    _ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedSettings)
}

/// The terminal in raw mode on the alternate screen, restored on every exit path: ``close()``,
/// `exit()` (an `atexit` handler), and SIGINT, SIGTERM, SIGHUP and SIGQUIT (a handler restores
/// the terminal, then the signal's default action runs). SIGWINCH marks a resize and wakes
/// ``wait(timeoutMilliseconds:)``.
public final class Terminal {
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Fails when standard input or output is not a terminal.
    public init() throws(DashDataError) {
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw DashDataError("fogline-cloud dash needs a terminal on stdin and stdout; for scripts use --once")
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw DashDataError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        wakeRead = pipeEnds[0]
        wakeWrite = pipeEnds[1]
        for descriptor in pipeEnds { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        wakeWriteDescriptor = wakeWrite

        guard tcgetattr(STDIN_FILENO, &savedSettings) == 0 else {
            throw DashDataError("cannot read the terminal's settings: \(String(cString: strerror(errno)))")
        }
        var raw = savedSettings
        // Raw input: no echo, no line editing, no signals from keys (Ctrl-C arrives as a key),
        // no flow control or CR translation. Output processing stays on.
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL | BRKINT | INPCK | ISTRIP)
        raw.c_cflag |= tcflag_t(CS8)
        withUnsafeMutableBytes(of: &raw.c_cc) { bytes in
            bytes[Int(VMIN)] = 0
            bytes[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0 else {
            throw DashDataError("cannot put the terminal in raw mode: \(String(cString: strerror(errno)))")
        }
        terminalActive = true
        atexit { restoreTerminal() }
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
            signal(signalNumber) { received in
                restoreTerminal()
                signal(received, SIG_DFL)
                raise(received)
            }
        }
        signal(SIGWINCH) { _ in
            resized = 1
            var byte: UInt8 = 1
            _ = write(wakeWriteDescriptor, &byte, 1)
        }
        // Alternate screen, cursor hidden, no autowrap (a full last column must not scroll).
        send("\u{1B}[?1049h\u{1B}[?25l\u{1B}[?7l\u{1B}[2J")
    }

    deinit { close() }

    /// Restores the terminal (idempotent).
    public func close() {
        restoreTerminal()
    }

    /// The terminal's size now.
    public var size: TerminalSize { Self.outputSize ?? .minimum }

    /// The size of the terminal on stdout, if stdout is one.
    static var outputSize: TerminalSize? {
        var window = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0, window.ws_row > 0 else { return nil }
        return TerminalSize(width: Int(window.ws_col), height: Int(window.ws_row))
    }

    /// Whether the terminal was resized since the last call.
    public func takeResize() -> Bool {
        guard resized != 0 else { return false }
        resized = 0
        return true
    }

    /// A function that wakes ``wait(timeoutMilliseconds:)`` from another thread (new data to draw).
    public var waker: @Sendable () -> Void {
        let descriptor = wakeWrite
        return {
            var byte: UInt8 = 1
            _ = write(descriptor, &byte, 1)
        }
    }

    /// Waits until a key arrives, ``wake()`` is called, the terminal is resized or the timeout
    /// passes; returns the input bytes read (possibly none).
    public func wait(timeoutMilliseconds: Int32) -> [UInt8] {
        var descriptors = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        _ = poll(&descriptors, 2, timeoutMilliseconds)
        var drain = [UInt8](repeating: 0, count: 64)
        while drain.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
        guard descriptors[0].revents & Int16(POLLIN) != 0 else { return [] }
        var input = [UInt8](repeating: 0, count: 4_096)
        let count = input.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
        return count > 0 ? Array(input[0..<count]) : []
    }

    /// Writes `text` to the terminal whole.
    public func send(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeMutableBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return
            }
            offset += written
        }
    }
}
