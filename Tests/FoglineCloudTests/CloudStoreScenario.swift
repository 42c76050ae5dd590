import FoglineCloud
import FoglineCore
import FoglineTesting

/// A random history of a site: two or three edge replicas (and sometimes a cloud writer editing
/// `desired`) that write, gossip now and then, and ship their deltas; every delta they produced,
/// and the state all of them join to.
struct CloudStoreScenario {
    var deltas: [SiteDelta] = []
    var replicas: [SiteState] = []
    /// The join of every delta.
    var full = SiteState()

    init(seed: UInt64, operations: ClosedRange<Int> = 20...80) {
        var random = SeededRandom(seed: seed)
        var writers = (0..<random.int(in: 2...3)).map { RandomSiteWriter(name: "edge-\($0)-\(seed % 7)") }
        var cloud = RandomSiteWriter(name: "cloud-\(seed % 5)")
        for _ in 0..<random.int(in: operations) {
            let index = random.int(in: 0...(writers.count - 1))
            switch random.int(in: 0...19) {
            case 0, 1:
                // Gossip: this replica joins another's whole state.
                let other = random.int(in: 0...(writers.count - 1))
                writers[index].state.merge(writers[other].state)
            case 2:
                // A whole state shipped as one delta (a reconnect's full sync).
                deltas.append(writers[index].state.asDelta)
            case 3:
                // A cloud API edit of `desired`, after the cloud learned a replica's state.
                cloud.state.merge(writers[index].state)
                let fields = [(random.pick(RandomSiteWriter.fields), RandomSiteWriter.randomValue(using: &random))]
                let stamp = cloud.stamp(using: &random)
                deltas.append(cloud.state.set(.desired, device: random.pick(RandomSiteWriter.devices), fields: fields, stamp: stamp))
            default:
                deltas.append(writers[index].randomOperation(using: &random))
            }
        }
        replicas = writers.map(\.state) + [cloud.state]
        for delta in deltas { full.merge(delta) }
    }

    /// The join of every delta without raw readings: what ``CloudStore/view(site:)`` returns.
    var fullWithoutRaw: SiteState {
        var state = SiteState()
        for var delta in deltas {
            delta.raw = nil
            state.merge(delta)
        }
        return state
    }

    /// The deltas in a random order, about a quarter of them twice.
    func shuffledWithDuplicates(using random: inout SeededRandom) -> [SiteDelta] {
        var sequence = deltas
        for delta in deltas where random.chance(0.25) { sequence.append(delta) }
        sequence.shuffle(using: &random)
        return sequence
    }

    /// What a replica that merged a random subset of the deltas would hold.
    func randomSubset(using random: inout SeededRandom) -> SiteState {
        var state = SiteState()
        let keep = random.chance(0.5) ? 0.5 : random.chance(0.5) ? 0.9 : 0.1
        for delta in deltas where random.chance(keep) { state.merge(delta) }
        return state
    }

    /// Per device, the raw telemetry summary, computed from the in-memory readings.
    static func telemetry(of raw: RawTelemetry) -> [String: RawTelemetrySummary] {
        var byDevice: [String: [RawTelemetry.Key]] = [:]
        for key in raw.readings.keys { byDevice[key.device, default: []].append(key) }
        return byDevice.mapValues { keys in
            let epochs = Dictionary(grouping: keys, by: \.epoch)
            let gaps = epochs.values.reduce(UInt64(0)) { sum, keys in sum + keys.map(\.seq).max()! + 1 - UInt64(keys.count) }
            let newest = epochs.keys.max()!
            return RawTelemetrySummary(received: UInt64(keys.count), gaps: gaps, lastSeq: epochs[newest]!.map(\.seq).max())
        }
    }
}
