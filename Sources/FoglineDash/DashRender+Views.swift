extension Frame {
    // MARK: Sites

    mutating func drawSites(_ state: DashState, in rect: Rect) {
        let now = state.nowMs
        let rows: [[Span]] = state.visibleSites.map { site in
            let nodesUp = site.nodesUp.map(String.init) ?? "?"
            let nodesStyle = site.nodesUp.map { $0 < site.nodes.count ? Theme.warning : Theme.good } ?? .plain
            let lag = site.lastSyncMs.map { now > $0 ? now - $0 : 0 }
            let lagStyle = lag.map { $0 >= lagBadMs ? Theme.bad : $0 >= lagWarningMs ? Theme.warning : Theme.good } ?? Theme.muted
            let offline = site.devicesTotal - site.devicesOnline
            return [
                Span(Frame.displaySafe(site.name), Theme.strong),
                Span("\(nodesUp)/\(site.nodes.count)", nodesStyle),
                Span(site.uplinkHolder.map { Frame.displaySafe($0.name) } ?? "-"),
                Span(site.lastSyncMs.map(DashFormat.clock) ?? "never", site.lastSyncMs == nil ? Theme.muted : .plain),
                Span(lag.map(DashFormat.duration) ?? "-", lagStyle),
                Span("\(site.devicesOnline)/\(site.devicesTotal)", offline > 0 ? Theme.warning : .plain),
                Span(site.activeAlarms > 0 ? "! \(site.activeAlarms)" : "0", site.activeAlarms > 0 ? Theme.bad : Theme.muted),
            ]
        }
        let empty = state.sites.isEmpty
            ? "no sites yet: a site appears once an edge node syncs or the aggregator's configuration lists it"
            : "no site matches the filter `\(state.siteFilter)` (Esc clears it)"
        table(TableSpec(
            title: "Sites (\(state.visibleSites.count))",
            columns: [
                TableColumn(title: "SITE", minWidth: 10, weight: 3, maxWidth: 40, priority: 100),
                TableColumn(title: "NODES", minWidth: 5, alignRight: true, priority: 50),
                TableColumn(title: "UPLINK", minWidth: 8, weight: 2, maxWidth: 24, priority: 40),
                TableColumn(title: "LAST SYNC", minWidth: 9, priority: 30),
                TableColumn(title: "LAG", minWidth: 6, alignRight: true, priority: 90),
                TableColumn(title: "DEVICES", minWidth: 7, alignRight: true, priority: 80),
                TableColumn(title: "ALARMS", minWidth: 6, alignRight: true, priority: 85),
            ],
            rows: rows, selected: state.siteCursor, empty: empty), in: rect, glyphs: state.glyphs)
    }

    // MARK: Site

    mutating func drawSite(_ state: DashState, site name: String, in rect: Rect) {
        let glyphs = state.glyphs
        let site = state.site ?? state.sites.first { $0.name == name }
        guard let site else {
            put("loading site \(name)…", row: rect.row + 1, column: 2, style: Theme.muted)
            return
        }
        // Summary line.
        let wideSummary = rect.width >= 120
        var summary: [Span] = [
            Span("uplink "), Span(site.uplinkHolder.map { Frame.displaySafe($0.name) } ?? "-", Theme.strong),
            Span("  synced "),
            Span(site.lastSyncMs.map { wideSummary ? "\(DashFormat.clock($0)), \(DashFormat.age(state.nowMs, $0)) ago" : "\(DashFormat.age(state.nowMs, $0)) ago" } ?? "never"),
            Span("  alarms "), Span("\(site.activeAlarms)", site.activeAlarms > 0 ? Theme.bad : .plain),
        ]
        if let audit = site.audit {
            summary.append(Span("  audit "))
            summary.append(audit.verified
                ? Span("verified", Theme.good) : Span("NOT VERIFIED", Theme.bad))
            summary.append(Span(": \(audit.nodes) nodes, \(audit.entries) entries"))
        }
        put(summary, row: rect.row, column: 1, width: rect.width - 2)

        // Nodes: as many rows as nodes, at most a third of the body.
        let nodeRows = max(1, site.nodes.count)
        let nodesHeight = min(nodeRows + 3, max(4, (rect.height - 1) / 3))
        let nodesRect = Rect(row: rect.row + 1, column: rect.column, width: rect.width, height: nodesHeight)
        let now = state.nowMs
        let holder = site.uplinkHolder?.name
        table(TableSpec(
            title: "Nodes (\(site.nodes.count))",
            columns: [
                TableColumn(title: "NODE", minWidth: 10, weight: 2, maxWidth: 30, priority: 100),
                TableColumn(title: "ROLE", minWidth: 12, weight: 2, maxWidth: 40, priority: 60),
                TableColumn(title: "HEALTH", minWidth: 6, priority: 90),
                TableColumn(title: "CLOCK", minWidth: 9, priority: 70),
                TableColumn(title: "SHARDS", minWidth: 6, alignRight: true, priority: 50),
                TableColumn(title: "HLC LAG", minWidth: 7, alignRight: true, priority: 40),
                TableColumn(title: "LAST SYNC", minWidth: 9, alignRight: true, priority: 80),
            ],
            rows: site.nodes.map { node in
                let status = node.status
                let roles = status?.roles.map { $0.isEmpty ? "-" : $0.joined(separator: ",") } ?? "?"
                let health: Span = switch status?.live {
                case true?: Span("live", Theme.good)
                case false?: Span("DOWN", Theme.bad)
                case nil: Span("?", Theme.muted)
                }
                let clock: Span = switch status?.clockTrusted {
                case true?: Span("trusted", Theme.good)
                case false?: Span("UNTRUSTED", Theme.warning)
                case nil: Span("?", Theme.muted)
                }
                return [
                    Span(Frame.displaySafe(node.name), node.name == holder ? Theme.strong : .plain),
                    Span(Frame.displaySafe(roles)), health, clock,
                    Span(status?.shards.map(String.init) ?? "?"),
                    Span(status?.hlcLagMs.map(DashFormat.signedDuration) ?? "?"),
                    Span(node.lastSyncMs.map { DashFormat.age(now, $0) } ?? "never"),
                ]
            },
            selected: nil, empty: "no nodes known: none has synced and the configuration lists none"), in: nodesRect, glyphs: glyphs)

        // Devices: the rest.
        let devicesRect = Rect(
            row: nodesRect.row + nodesRect.height, column: rect.column, width: rect.width, height: rect.height - 1 - nodesRect.height)
        let columns = [
            TableColumn(title: "DEVICE", minWidth: 8, weight: 3, maxWidth: 28, priority: 100),
            TableColumn(title: "PROFILE", minWidth: 10, weight: 1, maxWidth: 16, priority: 30),
            TableColumn(title: "STATE", minWidth: 5, priority: 95),
            TableColumn(title: "SEEN", minWidth: 6, alignRight: true, priority: 60),
            TableColumn(title: "TREND", minWidth: 8, weight: 2, maxWidth: 40, priority: 40),
            TableColumn(title: "REPORTED/DESIRED", minWidth: 16, weight: 4, priority: 90),
            TableColumn(title: "RX/GAPS", minWidth: 7, alignRight: true, priority: 50),
            TableColumn(title: "ALM", minWidth: 3, alignRight: true, priority: 85),
        ]
        let widths = Frame.layout(columns, width: devicesRect.width - 4).widths
        let rows: [[Span]] = state.visibleDevices.map { device in
            deviceRow(device, state: state, trendWidth: widths[4], twinWidth: widths[5])
        }
        let empty = state.devices.isEmpty
            ? (state.site == nil ? "loading…" : "no devices yet: a device appears once an edge node has synced it")
            : "no device matches the filter `\(state.deviceFilter)` (Esc clears it)"
        let online = state.visibleDevices.filter(\.online).count
        table(TableSpec(
            title: "Devices (\(state.visibleDevices.count), \(online) online)",
            columns: columns,
            rows: rows, selected: state.deviceCursor, empty: empty), in: devicesRect, glyphs: glyphs)
    }

    /// A row of a site's devices table; the trend and twin texts are made for their column widths
    /// (a sparkline is never cut with an ellipsis; pending values shorten before they are cut).
    func deviceRow(_ device: DeviceSummary, state: DashState, trendWidth: Int, twinWidth: Int) -> [Span] {
        let glyphs = state.glyphs
        let presence = device.online ? Span("\(glyphs.online) on", Theme.good) : Span("\(glyphs.offline) OFF", Theme.bad)
        let trend = DashFormat.sparkline(
            device.recent.filter { $0.metric == device.mainMetric }.map(\.mean), width: trendWidth, glyphs: glyphs)
        let twin = device.twin
        let pending = twin.filter(\.isPending)
        let twinSpan: Span
        if !pending.isEmpty {
            let long = pending.map { "\(Frame.displaySafe($0.name)) \(DashFormat.scalar($0.reported))→\(DashFormat.scalar($0.desired))" }
                .joined(separator: ", ")
            let short = pending.map { "\(Frame.displaySafe($0.name)) \(DashFormat.scalar($0.desired))" }.joined(separator: ", ")
            let text = long.count + 2 <= twinWidth ? long : short.count + 2 <= twinWidth ? short : "\(pending.count) pending: " + short
            twinSpan = Span("\(glyphs.pending) " + text, Theme.warning)
        } else if twin.contains(where: { $0.desired != nil }) {
            let list = twin.filter { $0.desired != nil }.map { "\(Frame.displaySafe($0.name)) \(DashFormat.scalar($0.desired))" }
            twinSpan = Span("\(glyphs.inSync) " + list.joined(separator: ", "), Theme.good)
        } else {
            let list = twin.map { "\(Frame.displaySafe($0.name)) \(DashFormat.scalar($0.reported))" }
            twinSpan = Span(list.isEmpty ? "-" : list.joined(separator: ", "), Theme.muted)
        }
        let telemetry = device.telemetry.map { "\($0.received)/\($0.gaps)" } ?? "?"
        return [
            Span(Frame.displaySafe(device.id), Theme.strong),
            Span(Frame.displaySafe(device.profile ?? "?")),
            presence,
            Span(device.lastSeenMs.map { DashFormat.age(state.nowMs, $0) } ?? "?"),
            Span(trend.isEmpty ? "-" : trend, CellStyle(foreground: .cyan)),
            twinSpan,
            Span(telemetry, (device.telemetry?.gaps ?? 0) > 0 ? Theme.warning : .plain),
            Span(device.activeAlarms > 0 ? "!\(device.activeAlarms)" : "0", device.activeAlarms > 0 ? Theme.bad : Theme.muted),
        ]
    }

    // MARK: Device

    /// The device view lists this many of the newest commands.
    static let commandsShown = 3

    mutating func drawDevice(_ state: DashState, site: String, device id: String, in rect: Rect) {
        let glyphs = state.glyphs
        guard let device = state.device, device.id == id else {
            put("loading device \(id)…", row: rect.row + 1, column: 2, style: Theme.muted)
            return
        }
        let wide = rect.width >= 120
        let leftWidth = wide ? rect.width / 2 : rect.width
        let rightColumn = wide ? rect.column + leftWidth : rect.column
        let rightWidth = wide ? rect.width - leftWidth : rect.width

        // Identity, presence and telemetry (4 rows).
        let infoRect = Rect(row: rect.row, column: rect.column, width: leftWidth, height: 4)
        box(infoRect, title: "\(Frame.displaySafe(id)) · \(Frame.displaySafe(site))", glyphs: glyphs)
        let firmware = device.registry.first { $0.name == "fw" }.map { DashFormat.scalar($0.value) } ?? "?"
        put([
            Span("profile "), Span(Frame.displaySafe(device.profile ?? "?"), Theme.strong), Span("  fw \(firmware)  "),
            device.online ? Span("\(glyphs.online) online", Theme.good) : Span("\(glyphs.offline) OFFLINE", Theme.bad),
            Span(device.onlineSinceMs.map { " since \(DashFormat.clock($0))" } ?? ""),
            Span("  last seen \(device.lastSeenMs.map { DashFormat.age(state.nowMs, $0) + " ago" } ?? "?")"),
        ], row: infoRect.row + 1, column: infoRect.column + 2, width: infoRect.width - 4)
        let telemetry = device.telemetry
        put([
            Span("telemetry received \(telemetry.map { "\($0.received)" } ?? "?")  "),
            Span("gaps \(telemetry.map { "\($0.gaps)" } ?? "?")", (telemetry?.gaps ?? 0) > 0 ? Theme.warning : .plain),
            Span("  duplicates \(telemetry?.duplicates.map(String.init) ?? "?")  compacted \(telemetry?.compacted.map(String.init) ?? "?")"),
            Span("  last seq \(telemetry?.lastSeq.map(String.init) ?? "-")"),
        ], row: infoRect.row + 2, column: infoRect.column + 2, width: infoRect.width - 4)

        // Alarms and commands: at the bottom (narrow), or under the chart (wide).
        let commandRows = max(1, min(Self.commandsShown, device.commands.count))
        let eventsHeight = 2 + min(max(1, device.alarms.count), 3) + commandRows
        let wideChartHeight = min(14, max(5, rect.height - eventsHeight - 6))
        let eventsRect = Rect(
            row: wide ? rect.row + wideChartHeight : rect.row + rect.height - eventsHeight, column: rightColumn, width: rightWidth,
            height: eventsHeight)
        box(eventsRect, title: "Alarms and commands", glyphs: glyphs)
        if device.alarms.isEmpty {
            put("alarms: none", row: eventsRect.row + 1, column: eventsRect.column + 2, style: Theme.good)
        } else {
            for (offset, alarm) in device.alarms.prefix(eventsHeight - 2 - commandRows).enumerated() {
                put("! alarm \(Frame.displaySafe(alarm))", row: eventsRect.row + 1 + offset, column: eventsRect.column + 2, style: Theme.bad,
                    maxWidth: eventsRect.width - 4)
            }
        }
        let commandsRow = eventsRect.row + eventsRect.height - 1 - commandRows
        if device.commands.isEmpty {
            put("commands: none", row: commandsRow, column: eventsRect.column + 2, style: Theme.muted, maxWidth: eventsRect.width - 4)
        }
        for (offset, command) in device.commands.suffix(commandRows).reversed().enumerated() {
            let style = switch command.status {
            case "ok": Theme.good
            case "pending": CellStyle.plain
            default: Theme.bad
            }
            put([
                Span("\(command.createdMs.map(DashFormat.clock) ?? "--:--:--")  cmd \(Frame.displaySafe(command.name)) "),
                Span(command.status, style),
                Span(command.detail.map { "  \(Frame.displaySafe($0))" } ?? ""),
            ], row: commandsRow + offset, column: eventsRect.column + 2, width: eventsRect.width - 4)
        }

        // Twin, and the chart: in two columns when wide, else stacked between info and events.
        let twinRows = max(1, device.twin.count)
        let chartTop = wide ? rect.row : infoRect.row + infoRect.height
        let twinRect: Rect
        let chartRect: Rect
        if wide {
            twinRect = Rect(row: infoRect.row + infoRect.height, column: rect.column, width: leftWidth, height: rect.height - infoRect.height)
            chartRect = Rect(row: chartTop, column: rightColumn, width: rightWidth, height: wideChartHeight)
            let windowsRect = Rect(
                row: eventsRect.row + eventsRect.height, column: rightColumn, width: rightWidth,
                height: rect.row + rect.height - eventsRect.row - eventsRect.height)
            if windowsRect.height >= 4 { drawWindows(device, state: state, in: windowsRect) }
        } else {
            let space = eventsRect.row - chartTop
            let twinHeight = min(twinRows + 3, max(4, space - 6))
            twinRect = Rect(row: chartTop, column: rect.column, width: rect.width, height: twinHeight)
            chartRect = Rect(row: chartTop + twinHeight, column: rect.column, width: rect.width, height: space - twinHeight)
        }
        table(TableSpec(
            title: "Twin: reported vs desired",
            columns: [
                TableColumn(title: "FIELD", minWidth: 10, weight: 2, maxWidth: 30, priority: 100),
                TableColumn(title: "REPORTED", minWidth: 10, weight: 2, priority: 90),
                TableColumn(title: "DESIRED", minWidth: 10, weight: 2, priority: 95),
                TableColumn(title: "STATUS", minWidth: 9, weight: 1, priority: 80),
            ],
            rows: device.twin.map { field in
                let status: Span =
                    field.isPending ? Span("\(glyphs.pending) pending", Theme.warning)
                    : field.desired != nil ? Span("\(glyphs.inSync) in sync", Theme.good) : Span("reported", Theme.muted)
                return [
                    Span(Frame.displaySafe(field.name), Theme.strong), Span(DashFormat.scalar(field.reported)),
                    Span(DashFormat.scalar(field.desired), field.isPending ? Theme.warning : .plain), status,
                ]
            },
            selected: state.fieldCursor, empty: "no reported or desired fields yet"), in: twinRect, glyphs: glyphs)
        drawChart(device, state: state, in: chartRect)
    }

    /// The main metric's recent windows as bars (mean per minute), with their range.
    mutating func drawChart(_ device: DeviceDetail, state: DashState, in rect: Rect) {
        guard rect.height >= 3 else { return }
        let glyphs = state.glyphs
        guard let metric = device.metrics.first else {
            box(rect, title: "Rollups", glyphs: glyphs)
            put("no rollups yet", row: rect.row + 1, column: rect.column + 2, style: Theme.muted)
            return
        }
        let inner = Rect(row: rect.row + 1, column: rect.column + 2, width: rect.width - 4, height: rect.height - 2)
        let windows = device.rollups.filter { $0.metric == metric }.suffix(max(1, inner.width - 8))
        let values = windows.map(\.mean)
        let low = values.min() ?? 0, high = values.max() ?? 0
        let others = device.metrics.count > 1 ? " (+\(device.metrics.count - 1) more)" : ""
        box(rect, title: "\(Frame.displaySafe(metric)): mean per minute, last \(windows.count) min\(others)", glyphs: glyphs)
        guard inner.height >= 1 else { return }
        let last = windows.last.map { DashFormat.number($0.last) } ?? "-"
        let legend = "min \(DashFormat.number(low))  max \(DashFormat.number(high))  last \(last)"
        let barsHeight = inner.height - 1
        put(legend, row: inner.row + inner.height - 1, column: inner.column, style: Theme.muted, maxWidth: inner.width)
        guard barsHeight >= 1 else { return }
        put(DashFormat.number(high), row: inner.row, column: inner.column, style: Theme.muted, maxWidth: 7)
        put(DashFormat.number(low), row: inner.row + barsHeight - 1, column: inner.column, style: Theme.muted, maxWidth: 7)
        let levelsPerCell = glyphs.levels.count
        for (offset, value) in values.enumerated() {
            // At least one level, so the lowest window still shows.
            let fraction = high > low ? (value - low) / (high - low) : 0.5
            let filled = max(1, Int((fraction * Double(barsHeight * levelsPerCell)).rounded()))
            let column = inner.column + inner.width - values.count + offset  // newest at the right edge
            for cellIndex in 0..<barsHeight {
                let levelsHere = min(levelsPerCell, filled - cellIndex * levelsPerCell)
                guard levelsHere > 0 else { break }
                let character = levelsHere == levelsPerCell ? glyphs.full : glyphs.levels[levelsHere - 1]
                self[inner.row + barsHeight - 1 - cellIndex, column] = Cell(character, style: CellStyle(foreground: .cyan))
            }
        }
    }

    /// The main metric's recent windows as a table, newest first (wide terminals).
    mutating func drawWindows(_ device: DeviceDetail, state: DashState, in rect: Rect) {
        let metric = device.metrics.first
        let windows = device.rollups.filter { $0.metric == metric }.reversed()
        table(TableSpec(
            title: "Recent windows\(metric.map { " of " + Frame.displaySafe($0) } ?? "")",
            columns: [
                TableColumn(title: "MINUTE", minWidth: 8, priority: 100),
                TableColumn(title: "COUNT", minWidth: 5, alignRight: true, priority: 90),
                TableColumn(title: "MIN", minWidth: 8, weight: 1, alignRight: true, priority: 80),
                TableColumn(title: "MEAN", minWidth: 8, weight: 1, alignRight: true, priority: 95),
                TableColumn(title: "MAX", minWidth: 8, weight: 1, alignRight: true, priority: 80),
                TableColumn(title: "LAST", minWidth: 8, weight: 1, alignRight: true, priority: 70),
            ],
            rows: windows.map { window in
                [Span(DashFormat.clock(window.windowStartMs)), Span("\(window.count)"), Span(DashFormat.number(window.min)),
                 Span(DashFormat.number(window.mean), Theme.strong), Span(DashFormat.number(window.max)), Span(DashFormat.number(window.last))]
            },
            selected: nil, empty: "no rollups yet"), in: rect, glyphs: state.glyphs)
    }

    // MARK: Audit

    mutating func drawAudit(_ state: DashState, site: String, in rect: Rect) {
        let glyphs = state.glyphs
        box(rect, title: "Audit · \(Frame.displaySafe(site)) · the hash-chained decisions, newest first", glyphs: glyphs)
        let inner = Rect(row: rect.row + 1, column: rect.column + 2, width: rect.width - 4, height: rect.height - 2)
        guard let audit = state.audit else {
            put("loading…", row: inner.row, column: inner.column, style: Theme.muted)
            return
        }
        var lines: [[Span]] = []
        if audit.isEmpty { lines.append([Span("no audit entries have reached the aggregator yet", Theme.muted)]) }
        for chain in audit {
            var head: [Span] = [Span(Frame.displaySafe(chain.node), Theme.strong), Span("  ")]
            head.append(chain.verified ? Span("verified", Theme.good) : Span("NOT VERIFIED", Theme.bad))
            head.append(Span("  \(chain.entries.count) entries"))
            if let problem = chain.problem { head.append(Span("  " + Frame.displaySafe(problem), Theme.bad)) }
            lines.append(head)
            for entry in chain.entries.reversed() {
                let time = entry.hlc.split(separator: ".").first.flatMap { UInt64($0) }.map(DashFormat.clock) ?? "?"
                lines.append([
                    Span(DashFormat.pad("#\(entry.index)", 7, right: true), Theme.muted), Span("  \(time)  "),
                    Span(DashFormat.pad(Frame.displaySafe(entry.kind), 14), Theme.strong),
                    Span(DashFormat.pad(Frame.displaySafe(entry.key), 22) + " "), Span(Frame.displaySafe(entry.detail)),
                ])
            }
            lines.append([])
        }
        let top = min(state.auditScroll, max(0, lines.count - inner.height))
        for (offset, line) in lines.dropFirst(top).prefix(inner.height).enumerated() {
            put(line, row: inner.row + offset, column: inner.column, width: inner.width)
        }
    }
}
