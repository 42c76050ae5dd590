internal import FoglineCore
internal import SwiftProtobuf

/// The columnar encoding of ``FieldMaps`` (registry, reported, desired): `FieldMapsPart` in
/// `fogline.proto`. Bulk twin updates dominate site traffic, so this is the hot path: a field
/// update costs its value (8 bytes for a number) plus about a byte of everything else.
enum FieldMapsColumns {
    // Value kinds as stored in the `value_kind` column (ValueKind in the schema).
    static let kindNumber: Int64 = 0
    static let kindString: Int64 = 1
    static let kindBool: Int64 = 2
    static let kindNull: Int64 = 3

    // MARK: Encoding

    static func encode(_ maps: FieldMaps) -> Fogline_V1_FieldMapsPart {
        var rows = Rows(capacity: maps.fieldCount)
        maps.forEachField { device, field in rows.add(device: device, field: field) }
        return rows.columns()
    }

    /// Every field of a FieldMaps, gathered in one pass (in FieldMaps' own order) into flat arrays,
    /// then emitted in a deterministic order: devices by their smallest dot (then name), fields by
    /// name.
    private struct Rows {
        // Tables in first-seen order.
        var names: [String] = []
        var nameSlots: [String: Int32] = [:]
        /// The names of the previous device's fields by position: devices usually hold the same
        /// fields in the same (symbol) order, so most look-ups are one string comparison.
        var nameCache: [(name: String, slot: Int32)] = []
        var writers: [UInt64] = []
        var lastWriter: UInt64 = 0
        var lastWriterSlot: Int32 = -1

        // Device groups (consecutive rows of one device).
        var groupDevices: [String] = []
        var groupStarts: [Int] = []
        var groupMinimumNodes: [UInt64] = []
        var groupMinimumCounters: [UInt64] = []

        // One element per field. A value is its kind and an index into the pool of that kind.
        var rowNames: [Int32] = []
        var rowWriters: [Int32] = []
        var rowLogicals: [UInt64] = []
        var rowDots: [UInt64] = []
        var rowKinds: [UInt8] = []
        var rowPayloads: [Int32] = []
        var numberPool: [Double] = []
        var stringPool: [String] = []
        var boolPool: [Bool] = []

        var positionInGroup = 0

        init(capacity: Int) {
            rowNames.reserveCapacity(capacity)
            rowWriters.reserveCapacity(capacity)
            rowLogicals.reserveCapacity(capacity)
            rowDots.reserveCapacity(capacity)
            rowKinds.reserveCapacity(capacity)
            rowPayloads.reserveCapacity(capacity)
            numberPool.reserveCapacity(capacity)
        }

        mutating func add(device: String, field: FieldMaps.Field) {
            let node = field.dot.node.rawValue
            let counter = field.dot.counter
            if groupDevices.isEmpty || groupDevices[groupDevices.count - 1] != device {
                groupDevices.append(device)
                groupStarts.append(rowNames.count)
                groupMinimumNodes.append(node)
                groupMinimumCounters.append(counter)
                positionInGroup = 0
            } else {
                let last = groupMinimumNodes.count - 1
                if (node, counter) < (groupMinimumNodes[last], groupMinimumCounters[last]) {
                    groupMinimumNodes[last] = node
                    groupMinimumCounters[last] = counter
                }
            }

            let slot: Int32
            if positionInGroup < nameCache.count, nameCache[positionInGroup].name == field.name {
                slot = nameCache[positionInGroup].slot
            } else {
                if let known = nameSlots[field.name] {
                    slot = known
                } else {
                    slot = Int32(names.count)
                    names.append(field.name)
                    nameSlots[field.name] = slot
                }
                if positionInGroup < nameCache.count {
                    nameCache[positionInGroup] = (field.name, slot)
                } else {
                    nameCache.append((field.name, slot))
                }
            }
            positionInGroup += 1

            if node != lastWriter || lastWriterSlot < 0 {
                lastWriter = node
                if let index = writers.firstIndex(of: node) {
                    lastWriterSlot = Int32(index)
                } else {
                    lastWriterSlot = Int32(writers.count)
                    writers.append(node)
                }
            }

            rowNames.append(slot)
            rowWriters.append(lastWriterSlot)
            rowLogicals.append(field.stamp.logical)
            rowDots.append(counter)
            switch field.value {
            case .number(let value):
                rowKinds.append(UInt8(truncatingIfNeeded: FieldMapsColumns.kindNumber))
                rowPayloads.append(Int32(numberPool.count))
                numberPool.append(value)
            case .string(let value):
                rowKinds.append(UInt8(truncatingIfNeeded: FieldMapsColumns.kindString))
                rowPayloads.append(Int32(stringPool.count))
                stringPool.append(value)
            case .bool(let value):
                rowKinds.append(UInt8(truncatingIfNeeded: FieldMapsColumns.kindBool))
                rowPayloads.append(Int32(boolPool.count))
                boolPool.append(value)
            case .null:
                rowKinds.append(UInt8(truncatingIfNeeded: FieldMapsColumns.kindNull))
                rowPayloads.append(0)
            }
        }

        func columns() -> Fogline_V1_FieldMapsPart {
            var part = Fogline_V1_FieldMapsPart()
            let rowCount = rowNames.count
            guard rowCount > 0 else { return part }

            // Sorted tables, and each first-seen slot's rank in them.
            let nameOrder = names.indices.sorted { names[$0] < names[$1] }
            var nameRank = [Int64](repeating: 0, count: names.count)
            for (rank, slot) in nameOrder.enumerated() { nameRank[slot] = Int64(rank) }
            let writerOrder = writers.indices.sorted { writers[$0] < writers[$1] }
            var writerRank = [Int64](repeating: 0, count: writers.count)
            for (rank, slot) in writerOrder.enumerated() { writerRank[slot] = Int64(rank) }
            let rowRanks = rowNames.map { nameRank[Int($0)] }

            // Devices by smallest dot, then name: deterministic, and a delta written device by
            // device comes out in write order, so dot counters form one long run.
            var groupOrder = Array(groupDevices.indices)
            let nodes = groupMinimumNodes
            let counters = groupMinimumCounters
            let devices = groupDevices
            groupOrder.sort { a, b in
                if nodes[a] != nodes[b] { return nodes[a] < nodes[b] }
                if counters[a] != counters[b] { return counters[a] < counters[b] }
                return devices[a] < devices[b]
            }

            var entryCount = IntColumnEncoder()
            var fieldIndex = IntColumnEncoder()
            var writerIndex = IntColumnEncoder()
            var absoluteLogical = IntColumnEncoder()
            var deviceLogical = IntColumnEncoder()
            var relativeLogical = IntColumnEncoder()
            var dotCounter = IntColumnEncoder()
            var valueKind = IntColumnEncoder()
            var numbers: [Double] = []
            numbers.reserveCapacity(numberPool.count)
            var strings: [String] = []
            strings.reserveCapacity(stringPool.count)
            var bools: [Bool] = []
            bools.reserveCapacity(boolPool.count)
            var orderedDevices: [String] = []
            orderedDevices.reserveCapacity(groupDevices.count)
            // Columns that would be all zeros (one writer) or all numbers are omitted.
            let severalWriters = writers.count > 1
            let mixedKinds = numberPool.count != rowCount
            var scratch: [Int] = []

            func emit(_ row: Int, position: Int, base: UInt64) {
                fieldIndex.append(rowRanks[row] - Int64(position))
                if severalWriters { writerIndex.append(writerRank[Int(rowWriters[row])]) }
                let logical = rowLogicals[row]
                absoluteLogical.append(logical)
                relativeLogical.append(logical &- base)
                dotCounter.append(rowDots[row])
                let payload = Int(rowPayloads[row])
                if !mixedKinds {
                    numbers.append(numberPool[payload])
                    return
                }
                let kind = rowKinds[row]
                valueKind.append(Int64(kind))
                switch Int64(kind) {
                case FieldMapsColumns.kindNumber: numbers.append(numberPool[payload])
                case FieldMapsColumns.kindString: strings.append(stringPool[payload])
                case FieldMapsColumns.kindBool: bools.append(boolPool[payload])
                default: break
                }
            }

            for group in groupOrder {
                let start = groupStarts[group]
                let end = group + 1 < groupStarts.count ? groupStarts[group + 1] : rowCount
                orderedDevices.append(groupDevices[group])
                entryCount.append(Int64(end - start))

                // Fields by name; usually already in that order.
                var sorted = true
                var row = start + 1
                while row < end {
                    if rowRanks[row - 1] > rowRanks[row] { sorted = false; break }
                    row += 1
                }
                if sorted {
                    let base = rowLogicals[start]
                    deviceLogical.append(base)
                    for row in start..<end { emit(row, position: row - start, base: base) }
                } else {
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(contentsOf: start..<end)
                    scratch.sort { rowRanks[$0] < rowRanks[$1] }
                    let base = rowLogicals[scratch[0]]
                    deviceLogical.append(base)
                    for (position, row) in scratch.enumerated() { emit(row, position: position, base: base) }
                }
            }

            part.fieldNames = nameOrder.map { names[$0] }
            part.writers = writerOrder.map { writers[$0] }
            part.devices = orderedDevices
            part.entryCount = Self.column(&entryCount)
            part.fieldIndex = Self.column(&fieldIndex)
            if severalWriters { part.writerIndex = Self.column(&writerIndex) }
            // HLC logicals: absolute, or per device a base plus offsets (one stamp per device
            // write makes the offsets all zero), whichever is smaller.
            let absolute = absoluteLogical.finish()
            let bases = deviceLogical.finish()
            let offsets = relativeLogical.finish()
            if IntColumnEncoder.encodedSize(of: bases) + IntColumnEncoder.encodedSize(of: offsets) + 2
                < IntColumnEncoder.encodedSize(of: absolute)
            {
                part.deviceLogical = Fogline_V1_IntColumn.with { $0.runs = bases }
                part.logical = Fogline_V1_IntColumn.with { $0.runs = offsets }
            } else {
                part.logical = Fogline_V1_IntColumn.with { $0.runs = absolute }
            }
            part.dotCounter = Self.column(&dotCounter)
            if mixedKinds { part.valueKind = Self.column(&valueKind) }
            part.numbers = numbers
            part.strings = strings
            part.bools = bools
            return part
        }

        private static func column(_ encoder: inout IntColumnEncoder) -> Fogline_V1_IntColumn {
            var column = Fogline_V1_IntColumn()
            column.runs = encoder.finish()
            return column
        }
    }

    // MARK: Decoding

    static func decode(_ part: Fogline_V1_FieldMapsPart, budget: inout EntryBudget, what: String) throws(WireError) -> FieldMaps {
        let limits = budget.limits
        let maxColumn = limits.maxColumnLength
        let deviceCount = part.devices.count

        let counts = try IntColumnDecoder.decode(
            part.entryCount.runs, exactLength: deviceCount, maxLength: maxColumn, what: "\(what).entry_count")
        var total = 0
        for count in counts {
            guard count >= 1 else {
                throw .invalidValue(what: "\(what): a device group with \(count) entries (groups hold at least one)")
            }
            guard count <= Int64(maxColumn - total) else {
                throw .limitExceeded(what: "values in one column (\(what) entries)", limit: maxColumn)
            }
            total += Int(count)
        }
        try budget.take(total, "\(what) fields")

        let fieldIndex = try IntColumnDecoder.decode(
            part.fieldIndex.runs, exactLength: total, maxLength: maxColumn, what: "\(what).field_index")
        let writerIndex: [Int64]? = part.hasWriterIndex
            ? try IntColumnDecoder.decode(
                part.writerIndex.runs, exactLength: total, maxLength: maxColumn, what: "\(what).writer_index")
            : nil
        let deviceLogical: [Int64]? = part.hasDeviceLogical
            ? try IntColumnDecoder.decode(
                part.deviceLogical.runs, exactLength: deviceCount, maxLength: maxColumn, what: "\(what).device_logical")
            : nil
        let logical = try IntColumnDecoder.decode(
            part.logical.runs, exactLength: total, maxLength: maxColumn, what: "\(what).logical")
        let dots = try IntColumnDecoder.decode(
            part.dotCounter.runs, exactLength: total, maxLength: maxColumn, what: "\(what).dot_counter")
        let kinds: [Int64]? = part.hasValueKind
            ? try IntColumnDecoder.decode(
                part.valueKind.runs, exactLength: total, maxLength: maxColumn, what: "\(what).value_kind")
            : nil

        let names = part.fieldNames
        let writers = part.writers.map { NodeID(rawValue: $0) }
        let numbers = part.numbers
        let strings = part.strings
        let bools = part.bools
        if total > 0 && writerIndex == nil && writers.isEmpty {
            throw .invalidValue(what: "\(what): fields without a writer table")
        }
        var nextNumber = 0
        var nextString = 0
        var nextBool = 0

        var maps = FieldMaps()
        // Each name of the message's table is interned once, on first use (unused names must not
        // end up in the receiver's symbol table); entries then carry symbols, not names.
        let unset = UInt32.max
        var symbols = [UInt32](repeating: unset, count: names.count)
        var row = 0
        var batch: [FieldMaps.Write] = []
        for device in 0..<deviceCount {
            batch.removeAll(keepingCapacity: true)
            let deviceName = part.devices[device]
            let base = deviceLogical.map { UInt64(bitPattern: $0[device]) } ?? 0
            for position in 0..<Int(counts[device]) {
                let nameIndex = fieldIndex[row] &+ Int64(position)
                guard nameIndex >= 0, nameIndex < Int64(names.count) else {
                    throw .invalidValue(what: "\(what): field name index \(nameIndex) outside the table of \(names.count) names")
                }
                let writerSlot = writerIndex?[row] ?? 0
                guard writerSlot >= 0, writerSlot < Int64(writers.count) else {
                    throw .invalidValue(what: "\(what): writer index \(writerSlot) outside the table of \(writers.count) writers")
                }
                let counter = UInt64(bitPattern: dots[row])
                guard counter > 0 else {
                    throw .invalidValue(what: "\(what): a field with dot counter 0 (dot counters start at 1)")
                }
                let value: FieldValue
                switch kinds?[row] ?? kindNumber {
                case kindNumber:
                    guard nextNumber < numbers.count else {
                        throw .invalidValue(what: "\(what): more number fields than values in `numbers`")
                    }
                    let number = numbers[nextNumber]
                    nextNumber += 1
                    guard number.isFinite else {
                        throw .invalidValue(what: "\(what): a non-finite number (\(number)); field values are finite")
                    }
                    value = .number(number)
                case kindString:
                    guard nextString < strings.count else {
                        throw .invalidValue(what: "\(what): more string fields than values in `strings`")
                    }
                    value = .string(strings[nextString])
                    nextString += 1
                case kindBool:
                    guard nextBool < bools.count else {
                        throw .invalidValue(what: "\(what): more bool fields than values in `bools`")
                    }
                    value = .bool(bools[nextBool])
                    nextBool += 1
                case kindNull:
                    value = .null
                case let other:
                    throw .invalidValue(what: "\(what): unknown value kind \(other)")
                }
                // Any 64-bit logical is a valid HLC value (milliseconds are its top 48 bits).
                let stampLogical = deviceLogical == nil
                    ? UInt64(bitPattern: logical[row]) : base &+ UInt64(bitPattern: logical[row])
                let writer = writers[Int(writerSlot)]
                var symbol = symbols[Int(nameIndex)]
                if symbol == unset {
                    symbol = maps.symbol(for: names[Int(nameIndex)])
                    symbols[Int(nameIndex)] = symbol
                }
                batch.append(FieldMaps.Write(
                    symbol: symbol, value: value,
                    stamp: HLCTimestamp(logical: stampLogical, node: writer), dotCounter: counter))
                row += 1
            }
            // One device look-up per device.
            maps.insert(device: deviceName, writes: batch)
        }
        guard nextNumber == numbers.count, nextString == strings.count, nextBool == bools.count else {
            throw .invalidValue(what: "\(what): value columns hold more values than the fields use")
        }
        return maps
    }
}
