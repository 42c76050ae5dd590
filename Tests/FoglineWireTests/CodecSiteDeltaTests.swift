import FoglineCore
import FoglineTesting
import FoglineWire
import Testing

/// Random site replicas for the codec tests: several writers with their own HLC logicals
/// (including ones near the top of the 64-bit range), every kind of field value (unicode strings,
/// extreme and negative numbers), presence, counters with negative and extreme amounts, alarms
/// raised and cleared, rollups and raw telemetry, and out-of-order merges that leave gaps (dot
/// clouds) in causal contexts.
struct CodecWorld {
    var replicas: [SiteState] = []
    var nodes: [NodeID] = []
    var logicals: [UInt64] = []
    /// Every mutation delta so far, merged out of order later.
    var log: [SiteDelta] = []

    static let devices = [
        "pump-1", "valve-2", "温度計-3", "door 🚪", "", "a-device-with-a-name-longer-than-fifteen-bytes", "Größe", "x",
    ]
    static let fieldNames = ["setpoint", "mode", "fw", "rate", "ünïcødé", "名前", "a", "zzz", "🌡️", ""]
    static let metrics = ["temp", "humidity", "pressure_hpa", "µS/cm"]
    static let counterNames = ["messages", "rejects", "energy_wh", "ошибки"]
    static let alarmCodes = ["overtemp", "door_forced", "leak", "⚠️"]

    init(_ random: inout SeededRandom, replicas count: Int, operations: Int) {
        for index in 0..<count {
            replicas.append(SiteState())
            switch random.int(in: 0...5) {
            case 0: nodes.append(NodeID(rawValue: 0))
            case 1: nodes.append(NodeID(rawValue: .max - UInt64(index)))
            default: nodes.append(NodeID(rawValue: random.next()))
            }
            switch random.int(in: 0...3) {
            case 0: logicals.append(.max - 10_000_000)  // milliseconds near 2^48
            case 1: logicals.append(UInt64(random.int(in: 0...1_000)))
            default: logicals.append(1_763_800_000_000 << 16)
            }
        }
        for _ in 0..<operations { step(&random) }
    }

    mutating func stamp(_ replica: Int, _ random: inout SeededRandom) -> HLCTimestamp {
        let advance: UInt64 = random.chance(0.5) ? 1 : UInt64(random.int(in: 1...70_000)) << 16
        if logicals[replica] <= .max - advance - 1 { logicals[replica] += advance } else { logicals[replica] &+= 1 }
        return HLCTimestamp(logical: logicals[replica], node: nodes[replica])
    }

    static func unicodeString(_ random: inout SeededRandom) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<random.int(in: 0...12) {
            let ranges: [ClosedRange<UInt32>] = [0x20...0x7E, 0x00...0x1F, 0xA0...0x24F, 0x4E00...0x4FFF, 0x1F300...0x1F6FF, 0x10000...0x10FFFF]
            let range = random.pick(ranges)
            if let scalar = Unicode.Scalar(UInt32(random.int(in: Int(range.lowerBound)...Int(range.upperBound)))) {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    static func number(_ random: inout SeededRandom) -> Double {
        switch random.int(in: 0...6) {
        case 0: return random.pick([0.0, -0.0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                    .leastNonzeroMagnitude, .leastNormalMagnitude, .pi, 1e-300, 9_007_199_254_740_992])
        case 1, 2: return Double(random.int(in: -1_000_000...1_000_000)) / 8
        default:
            while true {
                let value = Double(bitPattern: random.next())
                if value.isFinite { return value }
            }
        }
    }

    static func value(_ random: inout SeededRandom) -> FieldValue {
        switch random.int(in: 0...9) {
        case 0: .null
        case 1: .bool(random.chance(0.5))
        case 2: .string(random.pick(["heat", "cool", "", "Größe", "🔥"]))
        case 3: .string(unicodeString(&random))
        default: .number(number(&random))
        }
    }

    mutating func step(_ random: inout SeededRandom) {
        let index = random.int(in: 0...(replicas.count - 1))
        let device = random.pick(Self.devices)
        let delta: SiteDelta
        switch random.int(in: 0...11) {
        case 0, 1, 2, 3:
            let group = random.pick([SiteState.FieldGroup.reported, .desired, .registry])
            let fields = (0..<random.int(in: 1...5)).map { _ in (random.pick(Self.fieldNames), Self.value(&random)) }
            delta = replicas[index].set(group, device: device, fields: fields, stamp: stamp(index, &random))
        case 4:
            delta = replicas[index].setPresence(device: device, online: random.chance(0.5), stamp: stamp(index, &random))
        case 5:
            let amount: Int64 = random.chance(0.1) ? random.pick([.min, .max, -1]) : Int64(random.int(in: -1_000...1_000))
            delta = replicas[index].addToCounter(random.pick(Self.counterNames), amount, by: nodes[index])
        case 6:
            delta = replicas[index].raise(Alarm(device: device, code: random.pick(Self.alarmCodes)), by: nodes[index])
        case 7:
            let active = replicas[index].alarms.elements.sorted()
            let alarm = active.isEmpty || random.chance(0.2)
                ? Alarm(device: device, code: random.pick(Self.alarmCodes)) : random.pick(active)
            delta = replicas[index].clear(alarm, by: nodes[index])
        case 8, 9:
            let values = (0..<random.int(in: 0...3)).map { _ in
                RawTelemetry.Metric(name: random.pick(Self.metrics), value: Double(random.int(in: -100_000...100_000)) / 16)
            }
            let deviceTime: Int64? = random.chance(0.3) ? nil : random.pick([Int64.min, .max, -1, 0, Int64(random.int(in: 0...Int.max))])
            let seq: UInt64 = random.chance(0.8) ? UInt64(random.int(in: 0...40)) : random.next()
            delta = replicas[index].recordTelemetry(
                device: device, epoch: UInt64(random.int(in: 0...2)), seq: seq, deviceTime: deviceTime, values: values, stamp: stamp(index, &random),
                keepRaw: random.chance(0.7))
        default:
            // Merge something from another replica: everything it has, or one of its earlier
            // mutation deltas out of order (which leaves gaps in the context).
            let other = random.int(in: 0...(replicas.count - 1))
            if random.chance(0.5) || log.isEmpty {
                if let missing = replicas[other].delta(since: replicas[index].summary) { replicas[index].merge(missing) }
            } else {
                replicas[index].merge(random.pick(log))
            }
            return
        }
        log.append(delta)
    }
}

@Suite("SiteDelta codec")
struct CodecSiteDeltaTests {
    /// Encodes, decodes, and checks equality, determinism and that the decoded delta merges the same.
    static func checkRoundTrip(_ delta: SiteDelta, into peer: SiteState, seed: UInt64, _ label: String) throws {
        let bytes = SiteDeltaCodec.encode(delta)
        let decoded = try SiteDeltaCodec.decode(bytes)
        #expect(decoded == delta, "seed \(seed): \(label) did not round-trip")
        for (name, original, copy) in [
            ("registry", delta.registry != nil, decoded.registry != nil), ("presence", delta.presence != nil, decoded.presence != nil),
            ("reported", delta.reported != nil, decoded.reported != nil), ("desired", delta.desired != nil, decoded.desired != nil),
            ("counters", delta.counters != nil, decoded.counters != nil), ("alarms", delta.alarms != nil, decoded.alarms != nil),
            ("rollups", delta.rollups != nil, decoded.rollups != nil), ("raw", delta.raw != nil, decoded.raw != nil),
        ] {
            #expect(original == copy, "seed \(seed): \(label): part \(name) presence changed")
        }
        #expect(SiteDeltaCodec.encode(decoded) == bytes, "seed \(seed): \(label): encoding is not deterministic")
        var viaWire = peer
        viaWire.merge(decoded)
        var direct = peer
        direct.merge(delta)
        #expect(viaWire == direct, "seed \(seed): \(label): merging the decoded delta differs")
    }

    @Test("random states: asDelta and delta(since:) round-trip", arguments: PropertySeeds.seeds(default: 120))
    func randomStates(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let world = CodecWorld(&random, replicas: random.int(in: 2...4), operations: random.int(in: 0...150))
        for (index, state) in world.replicas.enumerated() {
            try Self.checkRoundTrip(state.asDelta, into: SiteState(), seed: seed, "replica \(index) asDelta")
            let peer = world.replicas[(index + 1) % world.replicas.count]
            if let delta = state.delta(since: peer.summary) {
                try Self.checkRoundTrip(delta, into: peer, seed: seed, "replica \(index) delta since replica \((index + 1) % world.replicas.count)")
            }
        }
        for delta in world.log.suffix(10) {
            try Self.checkRoundTrip(delta, into: world.replicas[0], seed: seed, "mutation delta")
        }
    }

    @Test("the shared RandomSiteWriter's states round-trip", arguments: PropertySeeds.seeds(default: 30))
    func randomSiteWriter(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var a = RandomSiteWriter(name: "edge-a")
        var b = RandomSiteWriter(name: "edge-b")
        for _ in 0..<random.int(in: 1...80) {
            if random.chance(0.5) { _ = a.randomOperation(using: &random) } else { _ = b.randomOperation(using: &random) }
            if random.chance(0.1), let delta = a.state.delta(since: b.state.summary) { b.state.merge(delta) }
        }
        try Self.checkRoundTrip(a.state.asDelta, into: b.state, seed: seed, "asDelta")
        if let delta = a.state.delta(since: b.state.summary) {
            try Self.checkRoundTrip(delta, into: b.state, seed: seed, "delta since peer")
        }
    }

    @Test("absent parts stay absent; present but empty parts stay present, an empty alarms kernel above all")
    func presentButEmpty() throws {
        let context = CausalContext([Dot(node: NodeID(rawValue: 7), counter: 1), Dot(node: NodeID(rawValue: 7), counter: 3)])
        let onlyAlarms = SiteDelta(context: context, alarms: DotKernel<Alarm>())
        let decoded = try SiteDeltaCodec.decode(SiteDeltaCodec.encode(onlyAlarms))
        #expect(decoded.alarms != nil)
        #expect(decoded.alarms?.isEmpty == true)
        #expect(decoded.registry == nil && decoded.presence == nil && decoded.reported == nil && decoded.desired == nil)
        #expect(decoded.counters == nil && decoded.rollups == nil && decoded.raw == nil)
        #expect(decoded.context == context)
        #expect(decoded == onlyAlarms)

        // And the difference matters: the empty kernel removes the alarm its context covers.
        var state = SiteState()
        _ = state.raise(Alarm(device: "d", code: "c"), by: NodeID(rawValue: 7))
        let covering = CausalContext([Dot(node: NodeID(rawValue: 7), counter: 1)])
        var withEmpty = state
        withEmpty.merge(try SiteDeltaCodec.decode(SiteDeltaCodec.encode(SiteDelta(context: covering, alarms: DotKernel()))))
        #expect(withEmpty.alarms.isEmpty)
        var withAbsent = state
        withAbsent.merge(try SiteDeltaCodec.decode(SiteDeltaCodec.encode(SiteDelta(context: covering))))
        #expect(!withAbsent.alarms.isEmpty)

        let allEmpty = SiteState().asDelta
        let decodedAll = try SiteDeltaCodec.decode(SiteDeltaCodec.encode(allEmpty))
        #expect(decodedAll == allEmpty)
        #expect(decodedAll.registry != nil && decodedAll.presence != nil && decodedAll.reported != nil)
        #expect(decodedAll.desired != nil && decodedAll.counters != nil && decodedAll.alarms != nil)
        #expect(decodedAll.rollups != nil && decodedAll.raw != nil)

        let nothing = SiteDelta(context: CausalContext())
        let decodedNothing = try SiteDeltaCodec.decode(SiteDeltaCodec.encode(nothing))
        #expect(decodedNothing == nothing)
        #expect(decodedNothing.carriesNoParts)
    }

    @Test("causal contexts with gaps round-trip on their own", arguments: PropertySeeds.seeds(default: 50))
    func causalContexts(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var context = CausalContext()
        let nodes = (0..<random.int(in: 1...4)).map { _ in NodeID(rawValue: random.next()) }
        for _ in 0..<random.int(in: 0...60) {
            context.insert(Dot(node: random.pick(nodes), counter: random.chance(0.1) ? random.next() | 1 : UInt64(random.int(in: 1...40))))
        }
        let decoded = try CausalContextCodec.decode(CausalContextCodec.encode(context))
        #expect(decoded == context, "seed \(seed)")
    }

    // MARK: Size

    /// The benchmark workload: `devices` × `fields` number fields written by one writer; after a
    /// first round is synced, replica A writes every field once more and ships
    /// `A.delta(since: B.context)`.
    static func workloadDelta(devices: Int = 1_000, fields: Int = 10, stampPerField: Bool) -> (delta: SiteDelta, a: SiteState, b: SiteState) {
        let writer = NodeID(name: "edge-a")
        var clock = HybridLogicalClock(node: writer, persistedBound: nil, wallMilliseconds: 1_763_800_000_000)
        var wall: UInt64 = 1_763_800_000_000
        var a = SiteState()
        var b = SiteState()
        let names = (0..<fields).map { "f\($0)" }
        let deviceNames = (0..<devices).map { index -> String in
            let digits = String(index)
            return "dev-" + String(repeating: "0", count: max(0, 5 - digits.count)) + digits
        }
        func writeRound(_ round: Int) {
            for (index, device) in deviceNames.enumerated() {
                if index % 50 == 0 { wall += 1 }  // about 50 device writes per millisecond
                let base = Double(round * 1_000_003 + index) + 0.5
                if stampPerField {
                    for (field, name) in names.enumerated() {
                        let stamp = clock.now(wallMilliseconds: wall).timestamp
                        _ = a.set(.reported, device: device, fields: [(name, FieldValue.number(base + Double(field) * 0.0625))], stamp: stamp)
                    }
                } else {
                    let stamp = clock.now(wallMilliseconds: wall).timestamp
                    let values = names.enumerated().map { ($1, FieldValue.number(base + Double($0) * 0.0625)) }
                    _ = a.set(.reported, device: device, fields: values, stamp: stamp)
                }
            }
        }
        writeRound(0)
        b.merge(a.delta(since: b.summary)!)
        writeRound(1)
        return (a.delta(since: b.summary)!, a, b)
    }

    @Test("1,000 devices × 10 number fields: at most 10 bytes per field update", arguments: [false, true])
    func bytesPerUpdate(stampPerField: Bool) throws {
        let (delta, a, b) = Self.workloadDelta(stampPerField: stampPerField)
        let bytes = SiteDeltaCodec.encode(delta)
        let perUpdate = Double(bytes.count) / 10_000
        print("SiteDelta workload (stamp per \(stampPerField ? "field" : "device")): \(bytes.count) bytes, \(perUpdate) bytes/update")
        #expect(perUpdate <= 10, "workload delta takes \(perUpdate) bytes per update (\(bytes.count) bytes)")
        var merged = b
        merged.merge(try SiteDeltaCodec.decode(bytes))
        #expect(merged == a)
    }

    /// Readings of two devices, one with and one without device times, two metrics each.
    static func rawReadings() -> RawTelemetry {
        var raw = RawTelemetry()
        let node = NodeID(rawValue: 42)
        for seq in UInt64(1)...5 {
            for device in ["pump-1", "温度計-3"] {
                raw.insert(RawTelemetry.Reading(
                    values: [.init(name: "temp", value: 20 + Double(seq)), .init(name: "µS/cm", value: -Double(seq))],
                    deviceTime: device == "pump-1" ? 1_763_800_000_000 + Int64(seq) * 1_000 : nil,
                    stamp: HLCTimestamp(logical: (1_763_800_000_000 + seq * 1_000) << 16, node: node),
                    dotCounter: seq * 2 + (device == "pump-1" ? 0 : 1)),
                    for: RawTelemetry.Key(device: device, epoch: device == "pump-1" ? 7 : 0, seq: seq))
            }
        }
        return raw
    }

    @Test("raw readings sent as rows, as senders before the column form wrote them, still decode")
    func rawRows() throws {
        let raw = Self.rawReadings()
        var message = Fogline_V1_SiteDelta(SiteDelta(context: CausalContext(), raw: raw))
        #expect(message.raw.hasColumns && message.raw.readings.isEmpty, "this version writes columns")
        let part = message.raw
        message.raw.clearColumns()
        message.raw.readings = raw.readings.map { key, reading in
            var row = Fogline_V1_RawReading()
            row.device = UInt32(part.devices.firstIndex(of: key.device)!)
            row.epoch = key.epoch
            row.seq = key.seq
            row.metrics = reading.values.map { UInt32(part.metrics.firstIndex(of: $0.name)!) }
            row.values = reading.values.map(\.value)
            if let time = reading.deviceTime { row.deviceTimeMs = time }
            row.logical = reading.stamp.logical
            row.writer = UInt32(part.writers.firstIndex(of: reading.stamp.node.rawValue)!)
            row.dotCounter = reading.dotCounter
            return row
        }
        let decoded = try SiteDeltaCodec.decode(try message.serializedBytes() as [UInt8])
        #expect(decoded.raw == raw)
    }

    @Test("raw reading columns that do not line up are rejected with invalid_value")
    func rawColumnsMisaligned() throws {
        let message = Fogline_V1_SiteDelta(SiteDelta(context: CausalContext(), raw: Self.rawReadings()))
        #expect(try SiteDeltaCodec.decode(try message.serializedBytes() as [UInt8]).raw == Self.rawReadings())
        let breakages: [(String, (inout Fogline_V1_RawColumns) -> Void)] = [
            ("a column one short", { $0.seqDelta.removeLast() }),
            ("a metric without its value", { $0.value.removeLast() }),
            ("metric counts beyond the metrics", { $0.metricCount[0] += 1 }),
            ("metric counts short of the metrics", { $0.metricCount[0] -= 1; $0.metricCount[1] -= 1 }),
            ("a device time too many", { $0.deviceTimeDelta.append(1) }),
            ("a device time missing", { $0.timed[$0.timed.firstIndex(of: false)!] = true }),
            ("a writer outside the table", { $0.writer[0] = 9 }),
            ("a device outside the table", { $0.device[3] = 9 }),
            ("a zero dot", { $0.dotDelta[0] = 0 }),
            ("a non-finite value", { $0.value[2] = .nan }),
        ]
        for (name, breakage) in breakages {
            var broken = message
            breakage(&broken.raw.columns)
            let bytes: [UInt8] = try broken.serializedBytes()
            #expect(Comment(rawValue: name)) {
                try SiteDeltaCodec.decode(bytes)
            } throws: { error in
                (error as? WireError)?.reason == "invalid_value"
            }
        }
    }
}
