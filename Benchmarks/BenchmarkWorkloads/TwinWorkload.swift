public import FoglineCore
import FoglineWire

/// The IoT twin workload shared by the micro benchmark and scripts/bench-core: replica A (an edge
/// node) writes every field of every device once per round; replica B (the cloud) is sent what it
/// lacks, `A.delta(since: B.summary)`, encoded to bytes, then decodes and merges it.
public struct TwinWorkload {
    public let deviceIDs: [String]
    public let fieldNames: [String]
    public var edge = SiteState()
    public var cloud = SiteState()
    var clock: HybridLogicalClock
    var wall: UInt64 = 1_763_800_000_000
    public private(set) var round = 0

    public init(devices: Int, fields: Int) {
        deviceIDs = (0..<devices).map { "device-\($0)" }
        fieldNames = (0..<fields).map { "field\($0)" }
        clock = HybridLogicalClock(node: NodeID(name: "edge-a"), persistedBound: nil, wallMilliseconds: wall)
        // Round 0 (untimed): both replicas know every device and field.
        writeRound()
        cloud.merge(edge)
    }

    public var updatesPerRound: Int { deviceIDs.count * fieldNames.count }

    public mutating func writeRound() {
        round += 1
        wall += 1_000
        for (deviceIndex, device) in deviceIDs.enumerated() {
            let stamp = clock.now(wallMilliseconds: wall).timestamp
            let fields = fieldNames.enumerated().map { fieldIndex, name in
                (name, FieldValue.number(Double(round) + Double(deviceIndex * 10 + fieldIndex) / 100))
            }
            _ = edge.set(.reported, device: device, fields: fields, stamp: stamp)
        }
    }

    public func encodeDelta() -> [UInt8] {
        guard let delta = edge.delta(since: cloud.summary) else { return [] }
        return SiteDeltaCodec.encode(delta)
    }

    public mutating func mergeDelta(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, let delta = try? SiteDeltaCodec.decode(bytes) else {
            fatalError("the workload's own delta failed to decode")
        }
        cloud.merge(delta)
    }
}
