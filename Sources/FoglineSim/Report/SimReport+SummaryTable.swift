extension SimReport {
    /// A plain-text table of what each device published, grouped by profile, with a total
    /// line per profile: what `fogline-sim` prints at the end, so that a test can compare
    /// it with what the edge received.
    ///
    /// ```text
    /// PROFILE     DEVICE           PUBLISHED  LAST_SEQ  BIRTHS  GAPS  DUPLICATES  MALFORMED  REPLAYED
    /// thermostat  thermostat-0001         60        59       1     0           0          0         0
    /// thermostat  thermostat-0002         60        59       1     0           0          0         0
    /// thermostat  TOTAL (2)              120         -       2     0           0          0         0
    /// ```
    ///
    /// Columns are separated by at least two spaces and numbers never contain spaces, so
    /// splitting a line on whitespace gives its fields (`TOTAL (2)` is the only name with
    /// a space). `LAST_SEQ` is `-` for a device that sent nothing.
    public func summaryTable() -> String {
        let header = ["PROFILE", "DEVICE", "PUBLISHED", "LAST_SEQ", "BIRTHS", "GAPS", "DUPLICATES", "MALFORMED", "REPLAYED"]
        var rows: [[String]] = []
        for profile in profiles {
            for device in devices where device.profile == profile.profile {
                rows.append([
                    device.profile, device.id, String(device.published), device.lastSeq.map { String($0) } ?? "-",
                    String(device.births), String(device.gaps), String(device.duplicates), String(device.malformed),
                    String(device.replayedMessages),
                ])
            }
            let totals = profile.totals
            rows.append([
                profile.profile, "TOTAL (\(profile.devices))", String(totals.published), "-", String(totals.births),
                String(totals.gaps), String(totals.duplicates), String(totals.malformed.total), String(totals.replayedMessages),
            ])
        }
        var widths = header.map(\.count)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (column, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                if column > 0 { text += "  " }
                // Names left-aligned, numbers right-aligned.
                text += column < 2 ? cell + (column == cells.count - 1 ? "" : padding) : padding + cell
            }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
