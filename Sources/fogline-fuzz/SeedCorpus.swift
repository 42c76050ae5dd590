import Crypto
import FoglineCore
import FoglineEdge
import FoglineWire
import Foundation

/// `fogline-fuzz seeds DIR`: writes the starting corpus (`Fuzz/corpus/TARGET/`), built with the
/// real encoders so that the fuzzers start from valid messages of every kind. The config
/// target's seeds are the example files themselves (copied by `make fuzz-seeds`).
enum SeedCorpus {
    static func write(to directory: String) throws {
        let seeds: [String: [[UInt8]]] = [
            "device-json": deviceSeeds(),
            "peer-frame": peerSeeds(),
            "sync-frame": syncSeeds(),
        ]
        for (target, inputs) in seeds {
            let folder = "\(directory)/\(target)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (index, input) in inputs.enumerated() {
                try Data(input).write(to: URL(fileURLWithPath: "\(folder)/seed-\(index)"))
            }
        }
    }

    /// Device messages as ``DeviceMessageTarget`` reads them: a selector byte, the payload, NUL between messages.
    static let deviceMessages: [(selector: UInt8, json: String)] = [
        (0, #"{"profile":"thermostat","fw":"1.4.2","metrics":{"temp":"C"},"replay":true}"#),
        (1, #"{"seq":0,"ts":1763800000123,"values":{"temp":21.5}}"#),
        (1, #"{"seq":1,"values":{"temp":21.6,"mode":"heat","on":true}}"#),
        (1, #"{"seq":4,"values":{"temp":21.7}}"#),
        (2, #"{"fields":{"setpoint":21.0,"mode":"heat"}}"#),
        (3, #"{"id":"c-1","status":"ok","detail":"done"}"#),
        (4, #"{"reason":"lost"}"#),
    ]

    static func deviceSeeds() -> [[UInt8]] {
        let all = deviceMessages.map { [$0.selector] + Array($0.json.utf8) }
        return [Array(all.joined(separator: [0]))] + all
    }

    /// A few site deltas from a device plane's real writes.
    static func deltas() -> [SiteDelta] {
        var plane = DevicePlane(
            configuration: DevicePlane.Configuration(site: "plant-1", node: "edge-a"), persistedClockBound: nil,
            at: DevicePlane.Moment(wallMilliseconds: 1_763_800_000_000, monotonicMilliseconds: 0))
        var deltas: [SiteDelta] = []
        for (index, message) in deviceMessages.enumerated() {
            let topic = FoglineTopic.device(site: "plant-1", device: "th-1", DeviceMessageTarget.channels[Int(message.selector)]).string
            let moment = DevicePlane.Moment(wallMilliseconds: 1_763_800_000_000 + UInt64(index) * 1_000, monotonicMilliseconds: UInt64(index) * 1_000)
            for case .persist(let delta) in plane.receive(topic: topic, payload: Array(message.json.utf8), at: moment) { deltas.append(delta) }
        }
        return deltas
    }

    static func peerSeeds() -> [[UInt8]] {
        let stamp = HLCTimestamp(milliseconds: 1_763_800_000_000, counter: 0, node: NodeID(name: "edge-b"))
        let summary = ReplicaSummary(context: deltas().last?.context ?? CausalContext(), kernelDigest: 42)
        var bodies: [Fogline_V1_PeerFrame.OneOf_Body] = [
            .heartbeat(Fogline_V1_Heartbeat(incarnation: 1, sequence: 7)),
            .contextExchange(Fogline_V1_ContextExchange(summary: summary)),
            .gossipAck(Fogline_V1_GossipAck(deltaSeq: 1, summary: summary)),
        ]
        bodies += deltas().prefix(3).enumerated().map { .gossipDelta(Fogline_V1_GossipDelta(delta: $0.element, deltaSeq: UInt64($0.offset + 1))) }
        let frames = bodies.map { PeerFrameCodec.encode(Fogline_V1_PeerFrame(from: "edge-b", site: "plant-1", sentAt: stamp, body: $0)) }
        func lengthPrefixed(_ bodies: [[UInt8]]) -> [UInt8] {
            bodies.flatMap { [UInt8($0.count >> 8 & 0xFF), UInt8($0.count & 0xFF)] + $0 }
        }
        // Odd first byte: sealed bodies; even: a raw stream (here an honest client's, which the
        // harness's fixed nonce does not match: a start for mutations of the framing).
        let hello = PeerWire.Hello(site: "plant-1", from: "edge-b", to: "edge-a", clientNonce: [UInt8](repeating: 1, count: PeerWire.nonceBytes))
        let rawStream = PeerWire.frame(hello.encode(serverNonce: PeerFrameTarget.serverNonce, siteKey: PeerFrameTarget.siteKey))
        return [[1] + lengthPrefixed(frames)] + frames.map { [3] + lengthPrefixed([$0]) } + [[0] + rawStream, [2] + rawStream]
    }

    static func syncSeeds() -> [[UInt8]] {
        let summary = ReplicaSummary(context: deltas().last?.context ?? CausalContext(), kernelDigest: 42)
        var frames: [Fogline_V1_SyncFrame] = [
            Fogline_V1_SyncFrame(site: "plant-1", node: "edge-a", body: .hello(Fogline_V1_SyncHello(summary: summary))),
            Fogline_V1_SyncFrame(site: "plant-1", node: "edge-a", batchID: 1, body: .ack(Fogline_V1_SyncAck(batchID: 1, summary: summary))),
        ]
        var merged = SiteState()
        for delta in deltas() { merged.merge(delta) }
        for maxPartBytes in [1 << 20, 200] {
            for part in SyncBatchCodec.encode(merged.asDelta, batchID: UInt64(maxPartBytes), maxPartBytes: maxPartBytes) {
                frames.append(Fogline_V1_SyncFrame(site: "plant-1", node: "edge-a", batchID: UInt64(maxPartBytes), body: .batch(part)))
            }
        }
        if let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 3, count: 32)) {
            for index in frames.indices { try? SyncFrameSignature.sign(&frames[index], with: key) }
        }
        let encoded = frames.map(SyncFrameCodec.encode)
        func lengthPrefixed(_ frames: [[UInt8]]) -> [UInt8] {
            frames.flatMap { [UInt8($0.count >> 8 & 0xFF), UInt8($0.count & 0xFF)] + $0 }
        }
        return [lengthPrefixed(encoded)] + encoded.map { lengthPrefixed([$0]) }
    }
}
