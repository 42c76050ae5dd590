public import FoglineCore

/// A replica of the site state driven by random operations: the generator behind the CRDT
/// property tests and, later, the site simulation. Each writer has its own node id and HLC whose
/// wall time wanders (including backwards) so timestamps are realistic, not sequential.
public struct RandomSiteWriter: Sendable {
    public let node: NodeID
    public var state = SiteState()
    public var clock: HybridLogicalClock
    public var wallMilliseconds: UInt64

    public static let devices = ["pump-1", "valve-2", "meter.3", "door_4", "aq-5"]
    public static let fields = ["setpoint", "mode", "fw", "rate"]
    public static let alarmCodes = ["overtemp", "door_forced", "leak"]
    public static let counters = ["messages", "rejects", "energy_wh"]

    public init(name: String, startMilliseconds: UInt64 = 1_763_800_000_000) {
        node = NodeID(name: name)
        wallMilliseconds = startMilliseconds
        clock = HybridLogicalClock(node: node, persistedBound: nil, wallMilliseconds: startMilliseconds)
    }

    /// A fresh timestamp after moving wall time a little (sometimes backwards, sometimes not at all).
    public mutating func stamp(using random: inout SeededRandom) -> HLCTimestamp {
        switch random.int(in: 0...9) {
        case 0: wallMilliseconds -= UInt64(random.int(in: 0...3_000))
        case 1...3: break
        default: wallMilliseconds += UInt64(random.int(in: 1...70_000))
        }
        return clock.now(wallMilliseconds: wallMilliseconds).timestamp
    }

    /// Applies one random operation and returns its delta.
    public mutating func randomOperation(using random: inout SeededRandom) -> SiteDelta {
        let device = random.pick(Self.devices)
        switch random.int(in: 0...9) {
        case 0, 1, 2:
            let group = random.pick([SiteState.FieldGroup.reported, .desired, .registry])
            let count = random.int(in: 1...3)
            let fields = (0..<count).map { _ in (random.pick(Self.fields), Self.randomValue(using: &random)) }
            return state.set(group, device: device, fields: fields, stamp: stamp(using: &random))
        case 3:
            return state.setPresence(device: device, online: random.chance(0.5), stamp: stamp(using: &random))
        case 4:
            return state.addToCounter(random.pick(Self.counters), Int64(random.int(in: -5...20)), by: node)
        case 5:
            return state.raise(Alarm(device: device, code: random.pick(Self.alarmCodes)), by: node)
        case 6:
            let active = state.alarms.elements.sorted()
            let alarm = active.isEmpty ? Alarm(device: device, code: random.pick(Self.alarmCodes)) : random.pick(active)
            return state.clear(alarm, by: node)
        default:
            let values = (0..<random.int(in: 1...2)).map { index in
                RawTelemetry.Metric(name: index == 0 ? "temp" : "humidity", value: Double(random.int(in: -400...900)) / 10)
            }
            return state.recordTelemetry(
                device: device, epoch: UInt64(random.int(in: 0...1)), seq: UInt64(random.int(in: 0...30)), deviceTime: Int64(random.int(in: 0...1_000)),
                values: values, stamp: stamp(using: &random), keepRaw: random.chance(0.7))
        }
    }

    public static func randomValue(using random: inout SeededRandom) -> FieldValue {
        switch random.int(in: 0...5) {
        case 0: .null
        case 1: .bool(random.chance(0.5))
        case 2: .string(random.pick(["heat", "cool", "off", "Größe", "🔥", ""]))
        default: .number(Double(random.int(in: -1_000...1_000)) / 4)
        }
    }
}
