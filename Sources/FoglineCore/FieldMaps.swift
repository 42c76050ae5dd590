/// Last-writer-wins maps of named fields, one map per device: the twin's `reported` and
/// `desired` fields and the device registry. Each field holds the write with the highest
/// ``HLCTimestamp``; a concurrent edit at the edge and in the cloud resolves per field, the same
/// way everywhere.
///
/// Memory is what limits a 1 GB board, so entries are flat 48-byte values in one small sorted
/// array per device, field names are interned, and an array grows one slot at a time (fields
/// are added rarely and overwritten often).
public struct FieldMaps: EntryDotStore {
    /// One field's winning write. The writer issued both the timestamp and the dot.
    @usableFromInline
    struct Entry: Sendable {
        @usableFromInline var value: FieldValue
        @usableFromInline var field: UInt32
        @usableFromInline var logical: UInt64
        @usableFromInline var writer: NodeID
        @usableFromInline var dotCounter: UInt64

        @inlinable
        init(value: FieldValue, field: UInt32, logical: UInt64, writer: NodeID, dotCounter: UInt64) {
            self.value = value
            self.field = field
            self.logical = logical
            self.writer = writer
            self.dotCounter = dotCounter
        }

        @inlinable
        init(_ write: Write) {
            self.init(
                value: write.value, field: write.symbol, logical: write.stamp.logical, writer: write.stamp.node,
                dotCounter: write.dotCounter)
        }

        @inlinable var stamp: HLCTimestamp { HLCTimestamp(logical: logical, node: writer) }
        @inlinable var dot: Dot { Dot(node: writer, counter: dotCounter) }
    }

    /// One field as seen from outside.
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: FieldValue
        public var stamp: HLCTimestamp
        public var dot: Dot

        public init(name: String, value: FieldValue, stamp: HLCTimestamp, dot: Dot) {
            self.name = name
            self.value = value
            self.stamp = stamp
            self.dot = dot
        }
    }

    @usableFromInline var fieldNames = SymbolTable()
    /// Per device, entries sorted by field symbol.
    @usableFromInline var devices: [String: ContiguousArray<Entry>] = [:]

    public init() {}

    public var isEmpty: Bool { devices.isEmpty }

    /// Number of devices with at least one field.
    public var deviceCount: Int { devices.count }

    /// Number of fields over all devices.
    public var fieldCount: Int { devices.values.reduce(0) { $0 + $1.count } }

    public var deviceIDs: [String] { Array(devices.keys) }

    /// The fields of `device`, sorted by name.
    public func fields(of device: String) -> [Field] {
        guard let entries = devices[device] else { return [] }
        return entries.map(field(from:)).sorted { $0.name < $1.name }
    }

    public func field(_ name: String, of device: String) -> Field? {
        guard let symbol = fieldNames.symbol(for: name), let entries = devices[device],
            let index = Self.position(of: symbol, in: entries).found
        else { return nil }
        return field(from: entries[index])
    }

    public func value(_ name: String, of device: String) -> FieldValue? {
        field(name, of: device)?.value
    }

    /// Calls `body` with every field of every device (in no particular order).
    public func forEachField(_ body: (_ device: String, _ field: Field) throws -> Void) rethrows {
        for (device, entries) in devices {
            for entry in entries { try body(device, field(from: entry)) }
        }
    }

    /// Keeps `field` of `device` if it beats what is there (the join of one entry).
    /// Returns whether it won.
    @discardableResult
    public mutating func insert(device: String, field: Field) -> Bool {
        precondition(field.dot.node == field.stamp.node, "a field's dot and timestamp come from the same writer")
        let write = Write(symbol: symbol(for: field.name), value: field.value, stamp: field.stamp, dotCounter: field.dot.counter)
        return Self.join(Entry(write), into: &devices[device, default: []])
    }

    /// One field write for the bulk path: the field's interned symbol (from ``symbol(for:)``), its
    /// value and its timestamp; the dot's node is the timestamp's node.
    public struct Write: Sendable {
        public var symbol: UInt32
        public var value: FieldValue
        public var stamp: HLCTimestamp
        public var dotCounter: UInt64

        public init(symbol: UInt32, value: FieldValue, stamp: HLCTimestamp, dotCounter: UInt64) {
            self.symbol = symbol
            self.value = value
            self.stamp = stamp
            self.dotCounter = dotCounter
        }
    }

    /// The symbol of field `name` in this map, interning it if new.
    public mutating func symbol(for name: String) -> UInt32 {
        fieldNames.intern(name)
    }

    /// Joins several writes to one device with a single lookup of the device: the decoder's path.
    public mutating func insert(device: String, writes: [Write]) {
        Self.modify(device, in: &devices, reserving: writes.count) { entries in
            for write in writes { Self.join(Entry(write), into: &entries) }
        }
    }

    // MARK: EntryDotStore

    public func forEachDot(_ body: (Dot) -> Void) {
        for entries in devices.values {
            for entry in entries { body(entry.dot) }
        }
    }

    public func entries(where isIncluded: (Dot) -> Bool) -> FieldMaps? {
        var result = FieldMaps()
        result.fieldNames = fieldNames
        for (device, entries) in devices {
            var included = ContiguousArray<Entry>()
            for entry in entries where isIncluded(entry.dot) {
                included.append(entry)
            }
            if !included.isEmpty { result.devices[device] = included }
        }
        return result.isEmpty ? nil : result
    }

    public mutating func merge(_ other: FieldMaps, otherContext: CausalContext, ownContext: CausalContext) {
        // Translate the other table's symbols once, not per entry.
        let translation = other.fieldNames.names.map { fieldNames.intern($0) }
        for (device, incoming) in other.devices {
            Self.modify(device, in: &devices, reserving: incoming.count) { entries in
                for var entry in incoming {
                    entry.field = translation[Int(entry.field)]
                    Self.join(entry, into: &entries)
                }
            }
        }
    }

    public static func == (lhs: FieldMaps, rhs: FieldMaps) -> Bool {
        guard lhs.devices.count == rhs.devices.count else { return false }
        for (device, entries) in lhs.devices {
            guard let others = rhs.devices[device], others.count == entries.count,
                lhs.fields(of: device) == rhs.fields(of: device)
            else { return false }
        }
        return true
    }

    // MARK: Private

    private func field(from entry: Entry) -> Field {
        Field(name: fieldNames.name(of: entry.field), value: entry.value, stamp: entry.stamp, dot: entry.dot)
    }

    /// Runs `body` on the entries of `device`, creating them with room for `count` if new.
    private static func modify(
        _ device: String, in devices: inout [String: ContiguousArray<Entry>], reserving count: Int,
        _ body: (inout ContiguousArray<Entry>) -> Void
    ) {
        if devices[device] == nil {
            var fresh = ContiguousArray<Entry>()
            fresh.reserveCapacity(count)
            body(&fresh)
            devices[device] = fresh
        } else {
            body(&devices[device]!)
        }
    }

    @discardableResult
    private static func join(_ entry: Entry, into entries: inout ContiguousArray<Entry>) -> Bool {
        switch position(of: entry.field, in: entries) {
        case .found(let index):
            let current = entries[index]
            guard (entry.logical, entry.writer) > (current.logical, current.writer) else { return false }
            entries[index] = entry
        case .insert(let index):
            if entries.count == entries.capacity {
                // Grow by one: fields are added once and overwritten often.
                var grown = ContiguousArray<Entry>()
                grown.reserveCapacity(entries.count + 1)
                grown.append(contentsOf: entries)
                entries = grown
            }
            entries.insert(entry, at: index)
        }
        return true
    }

    @usableFromInline
    enum Position { case found(Int), insert(Int)
        var found: Int? { if case .found(let index) = self { index } else { nil } }
    }

    @usableFromInline
    static func position(of symbol: UInt32, in entries: ContiguousArray<Entry>) -> Position {
        var low = 0
        var high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].field < symbol { low = mid + 1 } else { high = mid }
        }
        return low < entries.count && entries[low].field == symbol ? .found(low) : .insert(low)
    }
}

extension FieldMaps: CustomStringConvertible {
    public var description: String {
        devices.keys.sorted().map { device in
            "\(device){" + fields(of: device).map { "\($0.name)=\($0.value)@\($0.stamp)" }.joined(separator: ",") + "}"
        }.joined(separator: " ")
    }
}
