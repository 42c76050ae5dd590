/// A last-writer-wins register: the value with the highest ``HLCTimestamp``.
public struct LWWRegister<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var stamp: HLCTimestamp
    /// The dot of the write; its node is `stamp.node`.
    public var dotCounter: UInt64

    public init(value: Value, stamp: HLCTimestamp, dotCounter: UInt64) {
        self.value = value
        self.stamp = stamp
        self.dotCounter = dotCounter
    }

    public var dot: Dot { Dot(node: stamp.node, counter: dotCounter) }

    /// Keeps whichever of the two writes has the higher timestamp.
    public mutating func merge(_ other: LWWRegister) {
        if other.stamp > stamp { self = other }
    }
}

/// A map of last-writer-wins registers (device presence: one register per device).
public struct LWWRegisterMap<Key: Hashable & Sendable, Value: Hashable & Sendable>: EntryDotStore {
    public private(set) var registers: [Key: LWWRegister<Value>] = [:]

    public init() {}

    public var isEmpty: Bool { registers.isEmpty }

    public subscript(key: Key) -> LWWRegister<Value>? { registers[key] }

    /// Joins one write into the map.
    public mutating func insert(_ register: LWWRegister<Value>, for key: Key) {
        if var current = registers[key] {
            current.merge(register)
            registers[key] = current
        } else {
            registers[key] = register
        }
    }

    public func forEachDot(_ body: (Dot) -> Void) {
        for register in registers.values { body(register.dot) }
    }

    public func entries(where isIncluded: (Dot) -> Bool) -> Self? {
        var result = Self()
        for (key, register) in registers where isIncluded(register.dot) {
            result.registers[key] = register
        }
        return result.isEmpty ? nil : result
    }

    public mutating func merge(_ other: Self, otherContext: CausalContext, ownContext: CausalContext) {
        for (key, register) in other.registers { insert(register, for: key) }
    }
}

/// Whether a device is connected, and since when (HLC milliseconds of the change).
public struct Presence: Hashable, Sendable {
    public var online: Bool
    public var sinceMilliseconds: UInt64

    public init(online: Bool, sinceMilliseconds: UInt64) {
        self.online = online
        self.sinceMilliseconds = sinceMilliseconds
    }
}
