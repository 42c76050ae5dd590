public import FoglineCore

// Conversions between FoglineCore values and the generated messages of `fogline.proto`.
// Encoding cannot fail; decoding validates and throws ``WireError``.

extension Fogline_V1_HLCTimestamp {
    public init(_ stamp: HLCTimestamp) {
        self.init()
        logical = stamp.logical
        node = stamp.node.rawValue
    }
}

extension HLCTimestamp {
    /// Every 64-bit `logical` value is a valid timestamp: milliseconds are its top 48 bits.
    public init(_ message: Fogline_V1_HLCTimestamp) {
        self.init(logical: message.logical, node: NodeID(rawValue: message.node))
    }
}

extension Fogline_V1_Dot {
    public init(_ dot: Dot) {
        self.init()
        node = dot.node.rawValue
        counter = dot.counter
    }

    /// The dot, if its counter is valid (> 0).
    public func toDot() throws(WireError) -> Dot {
        guard counter > 0 else { throw .invalidValue(what: "a dot with counter 0 (dot counters start at 1)") }
        return Dot(node: NodeID(rawValue: node), counter: counter)
    }
}

extension Fogline_V1_CausalContext {
    public init(_ context: CausalContext) {
        self.init()
        versionVector = context.versionVector.map { entry in
            var message = Fogline_V1_VersionEntry()
            message.node = entry.node.rawValue
            message.counter = entry.counter
            return message
        }
        cloud = context.cloud.map(Fogline_V1_Dot.init)
    }

    /// The causal context, validated: counters > 0, and at most `limits.maxEntries` entries and
    /// dots. Decoding costs O(n log n) whatever the order of the entries.
    public func toCausalContext(limits: DecodeLimits = DecodeLimits()) throws(WireError) -> CausalContext {
        var budget = EntryBudget(limits)
        return try toCausalContext(budget: &budget)
    }

    func toCausalContext(budget: inout EntryBudget) throws(WireError) -> CausalContext {
        try budget.take(versionVector.count, "version vector entries")
        try budget.take(cloud.count, "causal context dots")
        var vector: [(NodeID, UInt64)] = []
        vector.reserveCapacity(versionVector.count)
        var sorted = true
        for entry in versionVector {
            guard entry.counter > 0 else {
                throw .invalidValue(what: "a version vector entry with counter 0 (entries hold counters >= 1)")
            }
            if let previous = vector.last, previous.0.rawValue >= entry.node { sorted = false }
            vector.append((NodeID(rawValue: entry.node), entry.counter))
        }
        // CausalContext inserts nodes into a sorted array: feed it sorted input so a hostile
        // order cannot make decoding quadratic.
        if !sorted { vector.sort { $0.0 < $1.0 } }
        var context = CausalContext(versionVector: vector)
        if !cloud.isEmpty {
            var dots: [Dot] = []
            dots.reserveCapacity(cloud.count)
            for message in cloud { dots.append(try message.toDot()) }
            dots.sort()
            for dot in dots { context.insert(dot) }
        }
        return context
    }
}

/// Encodes a ``CausalContext`` on its own (`CausalContext` message: version vector + dot cloud),
/// e.g. to persist it. The message has no schema version of its own; it is frozen (add fields
/// only) and travels inside versioned frames.
public enum CausalContextCodec {
    public static func encode(_ context: CausalContext) -> [UInt8] {
        ProtobufIO.serialize(Fogline_V1_CausalContext(context))
    }

    public static func decode(_ bytes: some Collection<UInt8>, limits: DecodeLimits = DecodeLimits()) throws(WireError) -> CausalContext {
        let message: Fogline_V1_CausalContext = try ProtobufIO.parse(bytes, limits: limits)
        return try message.toCausalContext(limits: limits)
    }
}
