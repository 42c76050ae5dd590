/// Styles with a meaning; colour is only a hint (see ``CellStyle``).
enum Theme {
    static let header = CellStyle(reverse: true)
    static let good = CellStyle(foreground: .green)
    static let warning = CellStyle(foreground: .yellow, bold: true)
    static let bad = CellStyle(foreground: .red, bold: true)
    static let muted = CellStyle(dim: true)
    static let strong = CellStyle(bold: true)
    static let banner = CellStyle(foreground: .white, background: .red, bold: true)
    static let notice = CellStyle(foreground: .cyan)
}

/// Sync lag beyond which a site is shown as lagging (the uplink says hello every 30 s by default).
let lagWarningMs: UInt64 = 60_000
/// Sync lag beyond which a site is shown as out of touch.
let lagBadMs: UInt64 = 300_000

/// Draws the dashboard: the whole screen for `state` at `size`, as cells. Pure: the same state
/// and size always give the same frame (the time shown is `state.nowMs`).
///
/// Layout, top to bottom: the header (aggregator, sites, devices online, messages per second,
/// worst sync lag, time), the breadcrumb with sort and filter, the unreachable banner when the
/// aggregator does not answer, the open view, and the footer (keys, a prompt, or a notice).
/// `?` lays the help over it.
public func render(_ state: DashState, size: TerminalSize) -> Frame {
    var frame = Frame(size: size)
    guard size.width >= TerminalSize.smallestDrawn.width, size.height >= TerminalSize.smallestDrawn.height else {
        let least = TerminalSize.smallestDrawn
        frame.put("terminal too small: enlarge it to at least \(least.width)x\(least.height)", row: 0, column: 0, style: Theme.bad)
        return frame
    }
    frame.drawHeader(state)
    frame.drawBreadcrumb(state)
    var top = 2
    if let banner = bannerText(state) {
        frame.fill(row: top, column: 0, width: size.width, style: Theme.banner)
        frame.put(DashFormat.fit(banner, size.width - 2, ellipsis: state.glyphs.ellipsis), row: top, column: 1, style: Theme.banner)
        top += 1
    }
    let body = Rect(row: top, column: 0, width: size.width, height: size.height - top - 1)
    switch state.view {
    case .sites: frame.drawSites(state, in: body)
    case .site(let site): frame.drawSite(state, site: site, in: body)
    case .device(let site, let device): frame.drawDevice(state, site: site, device: device, in: body)
    case .audit(let site): frame.drawAudit(state, site: site, in: body)
    }
    frame.drawFooter(state)
    if state.showHelp { frame.drawHelp(state) }
    return frame
}

/// The banner line, when the aggregator is not answering.
func bannerText(_ state: DashState) -> String? {
    switch state.connection {
    case .connected:
        return nil
    case .connecting:
        return "connecting to \(state.aggregator)…"
    case .unreachable(let since, let reason):
        let shown = state.lastUpdateMs.map { "data shown is \(DashFormat.age(state.nowMs, $0)) old" } ?? "no data yet"
        return "AGGREGATOR UNREACHABLE for \(DashFormat.age(state.nowMs, since)), retrying; \(shown). \(reason)"
    }
}

extension Frame {
    mutating func drawHeader(_ state: DashState) {
        let width = size.width
        fill(row: 0, column: 0, width: width, style: Theme.header)
        let address = state.aggregator.hasPrefix("http://") ? String(state.aggregator.dropFirst(7)) : state.aggregator
        let online = state.sites.reduce(0) { $0 + $1.devicesOnline }, total = state.sites.reduce(0) { $0 + $1.devicesTotal }
        let rate = state.messagesPerSecond.map { DashFormat.number($0) } ?? "?"
        let lag = state.worstLagMs.map(DashFormat.duration) ?? "-"
        let time = DashFormat.clock(state.nowMs) + " UTC"
        let separator = " \(state.glyphs.separator) "
        let long = ["fogline-cloud \(address)", "sites \(state.sites.count)", "devices \(online)/\(total) online", "\(rate) msg/s",
            "worst lag \(lag)"].joined(separator: separator)
        let short = [address, "sites \(state.sites.count)", "dev \(online)/\(total)", "\(rate) msg/s", "lag \(lag)"]
            .joined(separator: separator)
        let room = width - time.count - 3
        let left = long.count <= room ? long : DashFormat.fit(short, room, ellipsis: state.glyphs.ellipsis)
        put(left, row: 0, column: 1, style: CellStyle(bold: true, reverse: true))
        put(time, row: 0, column: width - time.count - 1, style: Theme.header)
        // Alarm and lag cues keep the header's reverse video and add colour.
        if let worst = state.worstLagMs, worst >= lagWarningMs, let range = left.range(of: "lag \(lag)") {
            let start = left.distance(from: left.startIndex, to: range.lowerBound) + 1
            for column in start..<(start + "lag \(lag)".count) { self[0, column].style.foreground = worst >= lagBadMs ? .red : .yellow }
        }
    }

    mutating func drawBreadcrumb(_ state: DashState) {
        var parts = ["Sites"]
        for view in state.views.dropFirst() {
            switch view {
            case .sites: break
            case .site(let site): parts.append(site)
            case .device(_, let device): parts.append(device)
            case .audit: parts.append("audit")
            }
        }
        let crumb = parts.joined(separator: state.glyphs.breadcrumb)
        var right: [String] = []
        switch state.view {
        case .sites:
            right.append("sort: \(state.siteSort.rawValue)")
            if !state.siteFilter.isEmpty || state.input != .normal { right.append("filter: \(state.siteFilter)") }
        case .site:
            right.append("sort: \(state.deviceSort.rawValue)")
            if !state.deviceFilter.isEmpty || state.input != .normal { right.append("filter: \(state.deviceFilter)") }
        default: break
        }
        if let updated = state.lastUpdateMs, state.connection == .connected, state.nowMs > updated + 5_000 {
            right.append("updated \(DashFormat.age(state.nowMs, updated)) ago")
        }
        let rightText = right.joined(separator: "  ")
        put(DashFormat.fit(crumb, size.width - rightText.count - 3, ellipsis: state.glyphs.ellipsis), row: 1, column: 1, style: Theme.strong)
        put(rightText, row: 1, column: size.width - rightText.count - 1, style: Theme.muted)
    }

    mutating func drawFooter(_ state: DashState) {
        let row = size.height - 1
        let width = size.width
        switch state.input {
        case .filter:
            let filter: String
            if case .sites = state.view { filter = state.siteFilter } else { filter = state.deviceFilter }
            put("filter: " + filter + "_", row: row, column: 1, style: Theme.strong)
            put("Enter keeps  Esc cancels", row: row, column: width - 25, style: Theme.muted)
            return
        case .edit(_, let device, let text):
            put("desired \(device): " + text + "_", row: row, column: 1, style: Theme.strong, maxWidth: width - 30)
            put("Enter sends  Esc cancels", row: row, column: width - 25, style: Theme.muted)
            return
        case .normal:
            break
        }
        if let notice = state.notice, notice.untilMs > state.nowMs {
            put(DashFormat.fit(notice.text, width - 2, ellipsis: state.glyphs.ellipsis), row: row, column: 1,
                style: notice.isError ? Theme.bad : Theme.notice)
            return
        }
        let keys: String
        switch state.view {
        case .sites: keys = "Enter open  / filter  s sort  r refresh  ? help  q quit"
        case .site: keys = "Enter open  e edit  a audit  / filter  s sort  Esc back  ? help  q quit"
        case .device: keys = "j/k field  e edit desired  r refresh  Esc back  ? help  q quit"
        case .audit: keys = "j/k scroll  r refresh  Esc back  ? help  q quit"
        }
        put(DashFormat.fit(keys, width - 2, ellipsis: state.glyphs.ellipsis), row: row, column: 1, style: Theme.muted)
    }

    mutating func drawHelp(_ state: DashState) {
        let lines: [(String, String)] = [
            ("Up/Down  j/k", "move the selection (PgUp/PgDn, g/G: jump)"),
            ("Enter", "open the selected site or device"),
            ("Esc", "back (at the top: clear the filter)"),
            ("/", "filter sites, or a site's devices (id, profile)"),
            ("s", "cycle the sort"),
            ("e", "edit a desired field: FIELD=VALUE, Enter sends"),
            ("a", "a site's audit pane (the verified decision chains)"),
            ("r", "refresh now"),
            ("?", "this help (any key closes it)"),
            ("q  Ctrl-C", "quit"),
            ("", ""),
            ("≠ / !", "a desired value the device has not reported"),
            ("?", "in a cell: not known to the aggregator"),
        ]
        let width = min(size.width - 4, 66), height = min(size.height - 2, lines.count + 4)
        let rect = Rect(row: (size.height - height) / 2, column: (size.width - width) / 2, width: width, height: height)
        for row in rect.row..<(rect.row + rect.height) { fill(row: row, column: rect.column, width: rect.width, style: .plain) }
        box(rect, title: "Keys", glyphs: state.glyphs, style: Theme.strong)
        for (offset, line) in lines.prefix(rect.height - 3).enumerated() {
            let key = line.0 == "≠ / !" ? "\(state.glyphs.pending)" : line.0
            put(DashFormat.pad(key, 14), row: rect.row + 2 + offset, column: rect.column + 2, style: Theme.strong)
            put(line.1, row: rect.row + 2 + offset, column: rect.column + 16, maxWidth: rect.width - 18)
        }
    }
}
