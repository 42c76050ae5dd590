import FoglineCore
import FoglineTesting
import Testing

@Suite("CRDT semantics")
struct CRDTSemanticsTests {
    let edge = NodeID(name: "edge-a")
    let cloud = NodeID(name: "cloud")
    let nov2025: UInt64 = 1_763_800_000_000

    @Test("a concurrent desired edit at the edge and in the cloud resolves per field by HLC, both sides equal")
    func concurrentDesiredEdits() {
        var edgeState = SiteState()
        var cloudState = SiteState()
        let edgeStamp = HLCTimestamp(milliseconds: nov2025 + 10, counter: 0, node: edge)
        let cloudStamp = HLCTimestamp(milliseconds: nov2025 + 5, counter: 0, node: cloud)
        let fromEdge = edgeState.set(.desired, device: "thermo-1", fields: [("setpoint", .number(21)), ("mode", .string("heat"))], stamp: edgeStamp)
        let laterCloud = HLCTimestamp(milliseconds: nov2025 + 20, counter: 0, node: cloud)
        let fromCloud = cloudState.set(.desired, device: "thermo-1", fields: [("setpoint", .number(19))], stamp: cloudStamp)
        let cloudMode = cloudState.set(.desired, device: "thermo-1", fields: [("mode", .string("cool"))], stamp: laterCloud)
        edgeState.merge(fromCloud)
        edgeState.merge(cloudMode)
        cloudState.merge(fromEdge)
        #expect(edgeState == cloudState)
        #expect(edgeState.desired.value("setpoint", of: "thermo-1") == .number(21))  // edge wrote later
        #expect(edgeState.desired.value("mode", of: "thermo-1") == .string("cool"))  // cloud wrote later
    }

    @Test("add-wins set: a concurrent add survives a remove; an observed add does not")
    func addWins() {
        let other = NodeID(name: "edge-b")
        var a = AddWinsSet<String>.State()
        var b = AddWinsSet<String>.State()
        b.merge(AddWinsSet.add("leak", by: edge, to: &a))
        // a removes what it saw while b re-adds concurrently.
        let removal = AddWinsSet.remove("leak", by: edge, from: &a)
        let readd = AddWinsSet.add("leak", by: other, to: &b)
        a.merge(readd)
        b.merge(removal)
        #expect(a == b)
        #expect(a.store.elements == ["leak"])
        // Now a remove that has seen every add wins.
        b.merge(AddWinsSet.remove("leak", by: other, from: &a))
        #expect(a.store.elements.isEmpty && b.store.elements.isEmpty)
        // No tombstones: nothing is kept for removed elements.
        #expect(a.store.entries.isEmpty)
    }

    @Test("add-wins set converges under random operations and delivery", arguments: PropertySeeds.seeds(default: 100))
    func addWinsConverges(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        let nodes = (0..<3).map { NodeID(name: "n\($0)") }
        var replicas = nodes.map { _ in AddWinsSet<Int>.State() }
        var pending: [(Int, AddWinsSet<Int>.State.Delta)] = []
        for _ in 0..<80 {
            let index = random.int(in: 0...2)
            let element = random.int(in: 0...4)
            let delta = random.chance(0.6)
                ? AddWinsSet.add(element, by: nodes[index], to: &replicas[index])
                : AddWinsSet.remove(element, by: nodes[index], from: &replicas[index])
            for target in 0..<3 where target != index && !random.chance(0.3) { pending.append((target, delta)) }
            if random.chance(0.5), !pending.isEmpty {
                let (target, message) = pending.remove(at: random.int(in: 0...(pending.count - 1)))
                replicas[target].merge(message)
            }
        }
        for (target, message) in pending { replicas[target].merge(message) }
        for a in 0..<3 {
            for b in 0..<3 where a != b {
                if let delta = replicas[a].delta(since: replicas[b].summary) { replicas[b].merge(delta) }
            }
        }
        #expect(replicas[0] == replicas[1] && replicas[1] == replicas[2], "seed \(seed)")
        // The laws, on the replicas as they were built.
        var ab = replicas[0]
        ab.merge(replicas[1])
        var ba = replicas[1]
        ba.merge(replicas[0])
        #expect(ab == ba)
    }

    @Test("multi-value register keeps concurrent writes until a later write resolves them")
    func multiValueRegister() {
        let other = NodeID(name: "edge-b")
        var a = MultiValueRegister<String>.State()
        var b = MultiValueRegister<String>.State()
        let fromA = MultiValueRegister.write("1.4.2", by: edge, to: &a)
        let fromB = MultiValueRegister.write("1.5.0", by: other, to: &b)
        a.merge(fromB)
        b.merge(fromA)
        #expect(a.store.elements == ["1.4.2", "1.5.0"] && a == b)
        b.merge(MultiValueRegister.write("1.5.1", by: edge, to: &a))
        #expect(a.store.elements == ["1.5.1"] && a == b)
        // Idempotent and a delta-since is nil once both sides are equal.
        #expect(a.delta(since: b.summary) == nil)
    }

    @Test("PN-counter: increments and decrements from every node add up once")
    func pnCounter() {
        var a = SiteState()
        var b = SiteState()
        let deltas = [
            a.addToCounter("energy_wh", 500, by: edge),
            a.addToCounter("energy_wh", -20, by: edge),
            b.addToCounter("energy_wh", 7, by: cloud),
        ]
        for delta in deltas + deltas { a.merge(delta); b.merge(delta) }
        #expect(a.counters.value("energy_wh") == 487)
        #expect(a == b)
    }

    @Test("presence is a last-writer-wins register per device")
    func presence() {
        var state = SiteState()
        _ = state.setPresence(device: "d1", online: true, stamp: HLCTimestamp(milliseconds: nov2025, counter: 0, node: edge))
        var other = SiteState()
        let offline = other.setPresence(device: "d1", online: false, stamp: HLCTimestamp(milliseconds: nov2025 + 1, counter: 0, node: cloud))
        state.merge(offline)
        #expect(state.presence["d1"]?.value == Presence(online: false, sinceMilliseconds: nov2025 + 1))
    }

    @Test("a field entry stays small: flat storage for 1 GB boards")
    func entryLayout() {
        // FieldMaps stores 48-byte entries; FieldValue must stay a 17-byte inline enum.
        #expect(MemoryLayout<FieldValue>.size <= 17)
        #expect(MemoryLayout<HLCTimestamp>.size == 16)
    }
}
