internal import FoglineCore

/// A sorted table of distinct values with each value's index (for the per-message string and
/// node tables of the row-oriented parts).
struct SortedTable<Value: Hashable & Comparable> {
    private(set) var values: [Value]
    private var index: [Value: UInt32]

    init(_ items: some Sequence<Value>) {
        values = Array(Set(items)).sorted()
        index = Dictionary(uniqueKeysWithValues: values.enumerated().map { ($1, UInt32($0)) })
    }

    subscript(value: Value) -> UInt32 { index[value]! }
}

/// Validation helpers shared by the decoders.
enum WireCheck {
    /// `table[index]`, throwing when the index is out of range.
    @inline(__always)
    static func lookup<T>(_ table: [T], _ index: UInt32, _ what: String) throws(WireError) -> T {
        guard Int(index) < table.count else {
            throw .invalidValue(what: "\(what) index \(index) outside its table of \(table.count)")
        }
        return table[Int(index)]
    }

    @inline(__always)
    static func positiveDot(_ counter: UInt64, _ what: String) throws(WireError) -> UInt64 {
        guard counter > 0 else { throw .invalidValue(what: "\(what) with dot counter 0 (dot counters start at 1)") }
        return counter
    }

    @inline(__always)
    static func finite(_ value: Double, _ what: String) throws(WireError) -> Double {
        guard value.isFinite else { throw .invalidValue(what: "a non-finite \(what) (\(value)); numbers are finite") }
        return value
    }

    @inline(__always)
    static func milliseconds(_ value: UInt64, _ what: String) throws(WireError) -> UInt64 {
        guard value <= HLCTimestamp.maxMilliseconds else {
            throw .invalidValue(what: "\(what) \(value) beyond 48 bits of milliseconds")
        }
        return value
    }
}

// MARK: - Presence

enum PresenceRows {
    static func encode(_ map: LWWRegisterMap<String, Presence>) -> Fogline_V1_PresencePart {
        let writers = SortedTable(map.registers.values.map { $0.stamp.node.rawValue })
        var part = Fogline_V1_PresencePart()
        part.writers = writers.values
        part.entries = map.registers.sorted { $0.key < $1.key }.map { device, register in
            var entry = Fogline_V1_PresenceEntry()
            entry.device = device
            entry.online = register.value.online
            entry.sinceMs = register.value.sinceMilliseconds
            entry.logical = register.stamp.logical
            entry.writer = writers[register.stamp.node.rawValue]
            entry.dotCounter = register.dotCounter
            return entry
        }
        return part
    }

    static func decode(_ part: Fogline_V1_PresencePart, budget: inout EntryBudget) throws(WireError) -> LWWRegisterMap<String, Presence> {
        try budget.take(part.entries.count, "presence registers")
        var map = LWWRegisterMap<String, Presence>()
        for entry in part.entries {
            let writer = NodeID(rawValue: try WireCheck.lookup(part.writers, entry.writer, "presence writer"))
            let register = LWWRegister(
                value: Presence(online: entry.online, sinceMilliseconds: try WireCheck.milliseconds(entry.sinceMs, "presence since_ms")),
                stamp: HLCTimestamp(logical: entry.logical, node: writer),
                dotCounter: try WireCheck.positiveDot(entry.dotCounter, "a presence register"))
            map.insert(register, for: entry.device)
        }
        return map
    }
}

// MARK: - Counters

enum CounterRows {
    static func encode(_ counters: PNCounters) -> Fogline_V1_CountersPart {
        let names = SortedTable(counters.cells.keys.map(\.name))
        let nodes = SortedTable(counters.cells.keys.map(\.node.rawValue))
        var part = Fogline_V1_CountersPart()
        part.names = names.values
        part.nodes = nodes.values
        part.cells = counters.cells
            .map { (name: names[$0.key.name], node: nodes[$0.key.node.rawValue], cell: $0.value) }
            .sorted { ($0.name, $0.node) < ($1.name, $1.node) }
            .map { row in
                var cell = Fogline_V1_CounterCell()
                cell.name = row.name
                cell.node = row.node
                cell.increments = row.cell.increments
                cell.decrements = row.cell.decrements
                cell.dotCounter = row.cell.dotCounter
                return cell
            }
        return part
    }

    static func decode(_ part: Fogline_V1_CountersPart, budget: inout EntryBudget) throws(WireError) -> PNCounters {
        try budget.take(part.cells.count, "counter cells")
        var counters = PNCounters()
        for message in part.cells {
            let key = PNCounters.Key(
                name: try WireCheck.lookup(part.names, message.name, "counter name"),
                node: NodeID(rawValue: try WireCheck.lookup(part.nodes, message.node, "counter node")))
            let cell = PNCounters.Cell(
                increments: message.increments, decrements: message.decrements,
                dotCounter: try WireCheck.positiveDot(message.dotCounter, "a counter cell"))
            counters.insert(cell, for: key)
        }
        return counters
    }
}

// MARK: - Alarms

enum AlarmRows {
    static func encode(_ kernel: DotKernel<Alarm>) -> Fogline_V1_AlarmsPart {
        let devices = SortedTable(kernel.entries.values.map(\.device))
        let codes = SortedTable(kernel.entries.values.map(\.code))
        var part = Fogline_V1_AlarmsPart()
        part.devices = devices.values
        part.codes = codes.values
        part.entries = kernel.entries.sorted { $0.key < $1.key }.map { dot, alarm in
            var entry = Fogline_V1_AlarmEntry()
            entry.dot = Fogline_V1_Dot(dot)
            entry.device = devices[alarm.device]
            entry.code = codes[alarm.code]
            return entry
        }
        return part
    }

    static func decode(_ part: Fogline_V1_AlarmsPart, budget: inout EntryBudget) throws(WireError) -> DotKernel<Alarm> {
        try budget.take(part.entries.count, "alarms")
        var entries: [Dot: Alarm] = [:]
        entries.reserveCapacity(part.entries.count)
        for message in part.entries {
            guard message.hasDot else { throw .missingField("AlarmEntry.dot") }
            let dot = try message.dot.toDot()
            let alarm = Alarm(
                device: try WireCheck.lookup(part.devices, message.device, "alarm device"),
                code: try WireCheck.lookup(part.codes, message.code, "alarm code"))
            guard entries.updateValue(alarm, forKey: dot) == nil else {
                throw .invalidValue(what: "two alarms with the same dot \(dot.node):\(dot.counter)")
            }
        }
        return DotKernel(entries: entries)
    }
}

// MARK: - Rollups

enum RollupRows {
    static func encode(_ rollups: TelemetryRollups) -> Fogline_V1_RollupsPart {
        let devices = SortedTable(rollups.cells.keys.map(\.device))
        let metrics = SortedTable(rollups.cells.keys.map(\.metric))
        let writers = SortedTable(rollups.cells.keys.map(\.writer.rawValue))
        var part = Fogline_V1_RollupsPart()
        part.devices = devices.values
        part.metrics = metrics.values
        part.writers = writers.values
        part.cells = rollups.cells.sorted { $0.key < $1.key }.map { key, summary in
            var cell = Fogline_V1_RollupCell()
            cell.device = devices[key.device]
            cell.metric = metrics[key.metric]
            cell.windowStartMs = key.windowStart
            cell.writer = writers[key.writer.rawValue]
            cell.count = summary.count
            cell.sum = summary.sum
            cell.min = summary.min
            cell.max = summary.max
            cell.last = summary.last
            cell.lastLogical = summary.lastLogical
            cell.dotCounter = summary.dotCounter
            return cell
        }
        return part
    }

    static func decode(_ part: Fogline_V1_RollupsPart, budget: inout EntryBudget) throws(WireError) -> TelemetryRollups {
        try budget.take(part.cells.count, "rollup cells")
        var rollups = TelemetryRollups()
        for cell in part.cells {
            let key = TelemetryRollups.Key(
                device: try WireCheck.lookup(part.devices, cell.device, "rollup device"),
                metric: try WireCheck.lookup(part.metrics, cell.metric, "rollup metric"),
                windowStart: try WireCheck.milliseconds(cell.windowStartMs, "rollup window_start_ms"),
                writer: NodeID(rawValue: try WireCheck.lookup(part.writers, cell.writer, "rollup writer")))
            let summary = TelemetryRollups.Summary(
                count: cell.count, sum: try WireCheck.finite(cell.sum, "rollup sum"), min: try WireCheck.finite(cell.min, "rollup min"),
                max: try WireCheck.finite(cell.max, "rollup max"), last: try WireCheck.finite(cell.last, "rollup last"),
                lastLogical: cell.lastLogical, dotCounter: try WireCheck.positiveDot(cell.dotCounter, "a rollup cell"))
            rollups.insert(summary, for: key)
        }
        return rollups
    }
}

// MARK: - Raw telemetry

/// Raw readings on the wire: written as columns (``Fogline_V1_RawColumns``), read as columns
/// and as rows (what senders before the column form wrote).
enum RawRows {
    static func encode(_ raw: RawTelemetry) -> Fogline_V1_RawTelemetryPart {
        let devices = SortedTable(raw.readings.keys.map(\.device))
        let metrics = SortedTable(raw.readings.values.flatMap { $0.values.map(\.name) })
        let writers = SortedTable(raw.readings.values.map(\.stamp.node.rawValue))
        var part = Fogline_V1_RawTelemetryPart()
        part.devices = devices.values
        part.metrics = metrics.values
        part.writers = writers.values
        let count = raw.readings.count
        var columns = Fogline_V1_RawColumns()
        columns.device.reserveCapacity(count)
        columns.epochDelta.reserveCapacity(count)
        columns.seqDelta.reserveCapacity(count)
        columns.metricCount.reserveCapacity(count)
        columns.timed.reserveCapacity(count)
        columns.logicalDelta.reserveCapacity(count)
        columns.writer.reserveCapacity(count)
        columns.dotDelta.reserveCapacity(count)
        var previous = (epoch: UInt64(0), seq: UInt64(0), deviceTime: Int64(0), logical: UInt64(0), dot: UInt64(0))
        for (key, reading) in raw.readings.sorted(by: { $0.key < $1.key }) {
            columns.device.append(devices[key.device])
            columns.epochDelta.append(ColumnDelta.of(key.epoch, after: previous.epoch))
            columns.seqDelta.append(ColumnDelta.of(key.seq, after: previous.seq))
            columns.metricCount.append(UInt32(reading.values.count))
            for metric in reading.values {
                columns.metric.append(metrics[metric.name])
                columns.value.append(metric.value)
            }
            columns.timed.append(reading.deviceTime != nil)
            if let time = reading.deviceTime {
                columns.deviceTimeDelta.append(time &- previous.deviceTime)
                previous.deviceTime = time
            }
            columns.logicalDelta.append(ColumnDelta.of(reading.stamp.logical, after: previous.logical))
            columns.writer.append(writers[reading.stamp.node.rawValue])
            columns.dotDelta.append(ColumnDelta.of(reading.dotCounter, after: previous.dot))
            previous.epoch = key.epoch
            previous.seq = key.seq
            previous.logical = reading.stamp.logical
            previous.dot = reading.dotCounter
        }
        if count > 0 { part.columns = columns }
        return part
    }

    static func decode(_ part: Fogline_V1_RawTelemetryPart, budget: inout EntryBudget) throws(WireError) -> RawTelemetry {
        var raw = RawTelemetry()
        try decodeRows(part, into: &raw, budget: &budget)
        if part.hasColumns { try decodeColumns(part, into: &raw, budget: &budget) }
        return raw
    }

    private static func decodeRows(_ part: Fogline_V1_RawTelemetryPart, into raw: inout RawTelemetry, budget: inout EntryBudget) throws(WireError) {
        try budget.take(part.readings.count, "raw readings")
        for message in part.readings {
            guard message.metrics.count == message.values.count else {
                throw .invalidValue(what: "a raw reading with \(message.metrics.count) metric names and \(message.values.count) values")
            }
            try budget.take(message.values.count, "raw reading values")
            var values: [RawTelemetry.Metric] = []
            values.reserveCapacity(message.values.count)
            for (index, value) in zip(message.metrics, message.values) {
                values.append(RawTelemetry.Metric(
                    name: try WireCheck.lookup(part.metrics, index, "raw reading metric"), value: try WireCheck.finite(value, "raw reading value")))
            }
            let writer = NodeID(rawValue: try WireCheck.lookup(part.writers, message.writer, "raw reading writer"))
            let reading = RawTelemetry.Reading(
                values: values, deviceTime: message.hasDeviceTimeMs ? message.deviceTimeMs : nil,
                stamp: HLCTimestamp(logical: message.logical, node: writer),
                dotCounter: try WireCheck.positiveDot(message.dotCounter, "a raw reading"))
            raw.insert(reading, for: RawTelemetry.Key(
                device: try WireCheck.lookup(part.devices, message.device, "raw reading device"), epoch: message.epoch, seq: message.seq))
        }
    }

    private static func decodeColumns(_ part: Fogline_V1_RawTelemetryPart, into raw: inout RawTelemetry, budget: inout EntryBudget) throws(WireError) {
        let columns = part.columns
        let count = columns.device.count
        try budget.take(count, "raw readings")
        let perReading = [
            columns.epochDelta.count, columns.seqDelta.count, columns.metricCount.count, columns.timed.count,
            columns.logicalDelta.count, columns.writer.count, columns.dotDelta.count,
        ]
        guard perReading.allSatisfy({ $0 == count }) else {
            throw .invalidValue(what: "raw reading columns of different lengths (\(count) devices, others \(perReading))")
        }
        guard columns.metric.count == columns.value.count else {
            throw .invalidValue(what: "raw reading columns with \(columns.metric.count) metric names and \(columns.value.count) values")
        }
        try budget.take(columns.value.count, "raw reading values")
        let timed = columns.timed.lazy.filter { $0 }.count
        guard columns.deviceTimeDelta.count == timed else {
            throw .invalidValue(what: "\(columns.deviceTimeDelta.count) raw reading device times for \(timed) readings that have one")
        }
        var previous = (epoch: UInt64(0), seq: UInt64(0), deviceTime: Int64(0), logical: UInt64(0), dot: UInt64(0))
        var nextMetric = 0
        var nextTime = 0
        for index in 0..<count {
            let metricCount = Int(columns.metricCount[index])
            guard metricCount <= columns.metric.count - nextMetric else {
                throw .invalidValue(what: "raw reading metric counts adding up to more than the \(columns.metric.count) metrics sent")
            }
            var values: [RawTelemetry.Metric] = []
            values.reserveCapacity(metricCount)
            for position in nextMetric..<(nextMetric + metricCount) {
                values.append(RawTelemetry.Metric(
                    name: try WireCheck.lookup(part.metrics, columns.metric[position], "raw reading metric"),
                    value: try WireCheck.finite(columns.value[position], "raw reading value")))
            }
            nextMetric += metricCount
            var deviceTime: Int64?
            if columns.timed[index] {
                previous.deviceTime = previous.deviceTime &+ columns.deviceTimeDelta[nextTime]
                deviceTime = previous.deviceTime
                nextTime += 1
            }
            previous.epoch = ColumnDelta.apply(columns.epochDelta[index], to: previous.epoch)
            previous.seq = ColumnDelta.apply(columns.seqDelta[index], to: previous.seq)
            previous.logical = ColumnDelta.apply(columns.logicalDelta[index], to: previous.logical)
            previous.dot = ColumnDelta.apply(columns.dotDelta[index], to: previous.dot)
            let writer = NodeID(rawValue: try WireCheck.lookup(part.writers, columns.writer[index], "raw reading writer"))
            let reading = RawTelemetry.Reading(
                values: values, deviceTime: deviceTime, stamp: HLCTimestamp(logical: previous.logical, node: writer),
                dotCounter: try WireCheck.positiveDot(previous.dot, "a raw reading"))
            raw.insert(reading, for: RawTelemetry.Key(
                device: try WireCheck.lookup(part.devices, columns.device[index], "raw reading device"), epoch: previous.epoch,
                seq: previous.seq))
        }
        guard nextMetric == columns.metric.count else {
            throw .invalidValue(what: "raw reading metric counts adding up to \(nextMetric) of the \(columns.metric.count) metrics sent")
        }
    }
}

/// A column value as the difference from the previous one, wrapping in 64 bits (``Fogline_V1_RawColumns``).
enum ColumnDelta {
    @inline(__always)
    static func of(_ value: UInt64, after previous: UInt64) -> Int64 { Int64(bitPattern: value &- previous) }

    @inline(__always)
    static func apply(_ delta: Int64, to previous: UInt64) -> UInt64 { previous &+ UInt64(bitPattern: delta) }
}
