import FoglineCore
import FoglineEdge
import FoglineWire
import Testing

@Suite("Device plane (pure)")
struct DevicePlaneTests {
    static let site = "plant-1"
    var plane = DevicePlane(
        configuration: .init(site: site, node: "edge-a"), persistedClockBound: nil,
        at: .init(wallMilliseconds: 1_763_800_000_000, monotonicMilliseconds: 0))
    var monotonic: UInt64 = 0

    mutating func now() -> DevicePlane.Moment {
        monotonic += 10
        return .init(wallMilliseconds: 1_763_800_000_000 + monotonic, monotonicMilliseconds: monotonic)
    }

    static func topic(_ device: String, _ channel: FoglineTopic.DeviceChannel) -> String {
        FoglineTopic.device(site: site, device: device, channel).string
    }

    mutating func send(_ device: String, _ channel: FoglineTopic.DeviceChannel, _ json: String) -> [DevicePlane.Action] {
        plane.receive(topic: Self.topic(device, channel), payload: Array(json.utf8), at: now())
    }

    mutating func telemetry(_ device: String, seq: UInt64, temp: Double = 21) -> [DevicePlane.Action] {
        send(device, .telemetry, #"{"seq":\#(seq),"ts":1,"values":{"temp":\#(temp)}}"#)
    }

    static func persisted(_ actions: [DevicePlane.Action]) -> [SiteDelta] {
        actions.compactMap { if case .persist(let delta) = $0 { delta } else { nil } }
    }

    static func published(_ actions: [DevicePlane.Action]) -> [(topic: String, payload: String, retain: Bool)] {
        actions.compactMap {
            if case .publish(let topic, let payload, _, let retain) = $0 { (topic, String(decoding: payload, as: UTF8.self), retain) } else { nil }
        }
    }

    static func rejections(_ actions: [DevicePlane.Action]) -> [String] {
        actions.compactMap { if case .rejected(let reason, _, _) = $0 { reason } else { nil } }
    }

    @Test("readings that overtake their device's birth stay in its stream")
    mutating func readingsOvertakeBirth() {
        _ = telemetry("door-1", seq: 0)
        _ = send("door-1", .birth, #"{"profile":"door_sensor"}"#)
        _ = telemetry("door-1", seq: 1)
        _ = telemetry("door-1", seq: 0)
        let ingest = plane.devices["door-1"]
        #expect(ingest?.received == 2 && ingest?.duplicates == 1 && ingest?.gaps == 0 && ingest?.lastSeq == 1, "\(String(describing: ingest))")
        // A later birth is a restart: seq 0 is a new reading of a new epoch.
        _ = send("door-1", .birth, #"{"profile":"door_sensor"}"#)
        _ = telemetry("door-1", seq: 0)
        #expect(plane.devices["door-1"]?.received == 3 && plane.devices["door-1"]?.lastSeq == 0)
    }

    @Test("a re-birth restarts seq numbering without colliding with the earlier raw readings")
    mutating func rebirthKeepsRawReadings() {
        _ = send("th-1", .birth, #"{"profile":"thermostat"}"#)
        let first = Self.persisted(telemetry("th-1", seq: 0, temp: 20))
        _ = send("th-1", .birth, #"{"profile":"thermostat"}"#)
        let second = Self.persisted(telemetry("th-1", seq: 0, temp: 30))
        #expect(second.count == 1)
        // The readings went to the store with the deltas (the plane keeps none in memory).
        var stored = RawTelemetry()
        for delta in first + second { if let raw = delta.raw { stored.merge(raw, otherContext: delta.context, ownContext: delta.context) } }
        let readings = stored.readings.filter { $0.key.device == "th-1" }.sorted { $0.key < $1.key }
        #expect(readings.map(\.value.values.first?.value) == [20, 30])
        #expect(Set(readings.map(\.key.epoch)).count == 2)
    }

    @Test("telemetry is deduplicated by seq, gaps are counted and replay is requested, replays fill them")
    mutating func dedupeGapsReplay() {
        _ = send("th-1", .birth, #"{"profile":"thermostat","fw":"1.4.2","replay":true}"#)
        for seq in 0..<10 as Range<UInt64> { #expect(Self.persisted(telemetry("th-1", seq: seq)).count == 1) }
        // A duplicate stores no reading; it is counted in the replicated duplicates counter.
        let duplicate = Self.persisted(telemetry("th-1", seq: 5))
        #expect(duplicate.count == 1 && duplicate.allSatisfy { $0.raw == nil && $0.rollups == nil && $0.counters != nil })
        #expect(plane.state.counters.value(TelemetryCounterNames.duplicates(of: "th-1")) == 1)
        // A gap: 10...14 missing, the device is asked to replay them.
        let gapActions = telemetry("th-1", seq: 15)
        #expect(Self.published(gapActions).map(\.topic) == [Self.topic("th-1", .replay)])
        #expect(Self.published(gapActions).first?.payload == #"{"from":10,"to":14}"#)
        for seq in 10...14 as ClosedRange<UInt64> { #expect(Self.persisted(telemetry("th-1", seq: seq)).count == 1) }
        let ingest = plane.devices["th-1"]
        #expect(ingest?.received == 16 && ingest?.duplicates == 1 && ingest?.gaps == 5 && ingest?.gapsFilled == 5)
        #expect(ingest?.lastSeq == 15)
        // Every stored reading is counted exactly once in the rollups.
        let count = plane.state.rollups.windows(device: "th-1", metric: "temp").reduce(0) { $0 + $1.summary.count }
        #expect(count == 16)
        #expect(plane.state.raw.readings.isEmpty, "raw readings leave memory once handed to the store")
    }

    @Test("the last readings the MQTT client dropped, which no gap reveals, are asked for after the highest seq received")
    mutating func droppedTailReplay() {
        _ = send("th-1", .birth, #"{"profile":"thermostat","replay":true}"#)
        #expect(Self.published(plane.replayDropped(topic: Self.topic("th-1", .telemetry), count: 2)).first?.payload == #"{"from":0,"to":1}"#,
                "nothing received yet: the stream starts at 0 after a birth")
        for seq in 0..<5 as Range<UInt64> { _ = telemetry("th-1", seq: seq) }
        let requested = Self.published(plane.replayDropped(topic: Self.topic("th-1", .telemetry), count: 3))
        #expect(requested.map(\.topic) == [Self.topic("th-1", .replay)])
        #expect(requested.first?.payload == #"{"from":5,"to":7}"#)
        for seq in 5...7 as ClosedRange<UInt64> { #expect(Self.persisted(telemetry("th-1", seq: seq)).count == 1) }
        #expect(plane.devices["th-1"]?.received == 8 && plane.devices["th-1"]?.duplicates == 0)
        #expect(plane.totals.replayRequests == 2)
        // Nothing to ask for: other channels, devices without replay, unknown devices, nothing dropped.
        _ = send("door-1", .birth, #"{"profile":"door"}"#)
        #expect(plane.replayDropped(topic: Self.topic("th-1", .reported), count: 1).isEmpty)
        #expect(plane.replayDropped(topic: Self.topic("door-1", .telemetry), count: 1).isEmpty)
        #expect(plane.replayDropped(topic: Self.topic("th-9", .telemetry), count: 1).isEmpty)
        #expect(plane.replayDropped(topic: Self.topic("th-1", .telemetry), count: 0).isEmpty)
    }

    @Test("memory stays flat: raw readings are handed to the store, rollup windows older than the previous minute dropped")
    mutating func memoryStaysFlat() {
        _ = send("th-1", .birth, #"{"profile":"thermostat"}"#)
        var persistedRaw = 0
        var persistedWindows = Set<UInt64>()
        // Ten minutes of readings, one every 10 s.
        for seq in 0..<60 as Range<UInt64> {
            monotonic += 10_000
            let deltas = Self.persisted(telemetry("th-1", seq: seq))
            persistedRaw += deltas.reduce(0) { $0 + ($1.raw?.readings.count ?? 0) }
            for delta in deltas { persistedWindows.formUnion(delta.rollups?.cells.keys.map(\.windowStart) ?? []) }
        }
        #expect(persistedRaw == 60)
        #expect(persistedWindows.count >= 10)
        #expect(plane.state.raw.readings.isEmpty)
        let inMemory = Set(plane.state.rollups.cells.keys.map(\.windowStart))
        #expect(inMemory.count <= 2 && inMemory.contains(persistedWindows.max()!))
        // Every dot handed out is still in the context, so no peer sends the dropped parts back.
        #expect(plane.state.context.contiguousMaximum(of: plane.node) >= 120)
    }

    @Test("a device without replay support is not asked to replay")
    mutating func noReplayRequest() {
        _ = send("door-1", .birth, #"{"profile":"door"}"#)
        _ = telemetry("door-1", seq: 0)
        #expect(Self.published(telemetry("door-1", seq: 3)).isEmpty)
        #expect(plane.devices["door-1"]?.gaps == 2)
    }

    @Test("every reject reason is counted and nothing is stored")
    mutating func rejections() {
        _ = send("th-1", .birth, #"{"profile":"thermostat"}"#)
        _ = telemetry("th-1", seq: 5_000)
        let before = plane.state
        let cases: [(String, [UInt8], String)] = [
            (Self.topic("th-1", .telemetry), Array("not json".utf8), "invalid_json"),
            (Self.topic("th-1", .telemetry), Array(#"{"seq":"7","values":{}}"#.utf8), "wrong_type"),
            (Self.topic("th-1", .telemetry), Array(#"{"seq":1,"seq":2,"values":{}}"#.utf8), "duplicate_key"),
            (Self.topic("th-1", .telemetry), Array(repeating: UInt8(ascii: " "), count: 70_000), "oversized"),
            ("fogline/v1/plant-1/dev/bad device/telemetry", Array(#"{"seq":1,"values":{}}"#.utf8), "invalid_topic"),
            (Self.topic("th-1", .telemetry), Array(#"{"seq":3,"values":{"temp":1}}"#.utf8), "seq_backwards"),
            (Self.topic("th-1", .cmdAck), Array(#"{"id":"c-nope","status":"ok"}"#.utf8), "unknown_command"),
            (Self.topic("th-1", .reported), Array(#"{"fields":{"a":{"nested":1}}}"#.utf8), "wrong_type"),
        ]
        for (topic, payload, reason) in cases {
            let actions = plane.receive(topic: topic, payload: payload, at: now())
            #expect(Self.rejections(actions) == [reason], "\(topic): \(actions)")
            #expect(Self.persisted(actions).isEmpty)
        }
        #expect(plane.state == before)
    }

    @Test("presence: birth online, silence past the timeout offline, death offline, traffic online again")
    mutating func presence() {
        _ = send("aq-1", .birth, #"{"profile":"air-quality"}"#)
        #expect(plane.state.presence["aq-1"]?.value.online == true)
        let quiet = DevicePlane.Moment(wallMilliseconds: 1_763_800_000_000 + 100_000, monotonicMilliseconds: monotonic + 100_000)
        monotonic += 100_000
        _ = plane.tick(at: quiet)
        #expect(plane.state.presence["aq-1"]?.value.online == false)
        _ = telemetry("aq-1", seq: 0)
        #expect(plane.state.presence["aq-1"]?.value.online == true)
        _ = send("aq-1", .death, #"{"reason":"lost"}"#)
        #expect(plane.state.presence["aq-1"]?.value.online == false)
        #expect(plane.state.registry.field("last_seen", of: "aq-1") != nil)
    }

    @Test("a re-birth starts a new epoch: seq restarts at 0 without rejections")
    mutating func rebirth() {
        _ = send("m-1", .birth, #"{"profile":"meter"}"#)
        for seq in 0..<3_000 as Range<UInt64> { _ = telemetry("m-1", seq: seq) }
        _ = send("m-1", .birth, #"{"profile":"meter"}"#)
        let actions = telemetry("m-1", seq: 0)
        #expect(Self.rejections(actions).isEmpty && Self.persisted(actions).count == 1)
    }

    @Test("a birth that continues the stream keeps its epoch and asks for the readings a stopped broker lost")
    mutating func continuedStreamAsksForTheLostTail() {
        _ = send("th-1", .birth, #"{"profile":"thermostat","replay":true}"#)
        let epoch = plane.replicatedEpoch(of: "th-1")
        for seq in 0..<10 as Range<UInt64> { _ = telemetry("th-1", seq: seq) }
        // The broker acknowledged seqs 10 and 11 to the device and stopped before delivering them;
        // the device reconnects and is born again, continuing at 12.
        let reborn = send("th-1", .birth, #"{"profile":"thermostat","replay":true,"seq":12}"#)
        #expect(Self.published(reborn).map(\.payload) == [#"{"from":10,"to":11}"#])
        #expect(plane.replicatedEpoch(of: "th-1") == epoch, "the stream, and so its epoch, goes on")
        #expect(plane.devices["th-1"]?.gaps == 2 && plane.devices["th-1"]?.online == true)
        let next = telemetry("th-1", seq: 12)
        #expect(Self.published(next).isEmpty && Self.rejections(next).isEmpty, "the tail was asked for once, at the birth")
        for seq in 10...11 as ClosedRange<UInt64> { #expect(Self.persisted(telemetry("th-1", seq: seq)).count == 1) }
        let ingest = plane.devices["th-1"]
        #expect(ingest?.received == 13 && ingest?.duplicates == 0 && ingest?.gapsFilled == 2 && ingest?.lastSeq == 12)
        // Readings of the new connection that overtook the birth already revealed the gap: nothing more to ask.
        _ = telemetry("th-1", seq: 15)
        #expect(Self.published(send("th-1", .birth, #"{"profile":"thermostat","replay":true,"seq":15}"#)).isEmpty)
        #expect(plane.devices["th-1"]?.gaps == 4)
    }

    @Test("a continuing birth for a stream this node never saw starts a new epoch at its seq")
    mutating func continuedStreamUnknownHere() {
        let actions = send("th-9", .birth, #"{"profile":"thermostat","replay":true,"seq":40}"#)
        #expect(Self.published(actions).isEmpty, "nothing before seq 40 is expected from a stream seen first now")
        #expect(plane.replicatedEpoch(of: "th-9") != nil)
        #expect(Self.persisted(telemetry("th-9", seq: 40)).count == 1)
        #expect(Self.rejections(telemetry("th-9", seq: 39)) == [DevicePlane.IngestRejection.seqBackwards])
        #expect(plane.devices["th-9"]?.gaps == 0)
    }

    @Test("commands carry the fence, finish on ack, retry a bounded number of times, then time out")
    mutating func commands() {
        let (command, actions) = plane.sendCommand(device: "valve-1", name: "open_valve", args: ["percent": 50], fence: 42, at: now())
        let sent = Self.published(actions)
        #expect(sent.map(\.topic) == [Self.topic("valve-1", .cmd)])
        let decoded = try? CommandPayload.decode(Array(sent[0].payload.utf8))
        #expect(decoded?.fence == 42 && decoded?.id == command.id && decoded?.name == "open_valve")
        _ = send("valve-1", .cmdAck, #"{"id":"\#(command.id)","status":"ok"}"#)
        #expect(plane.commands[command.id]?.status == .ok)

        let (unanswered, _) = plane.sendCommand(device: "valve-1", name: "close_valve", args: [:], fence: 43, at: now())
        var publishes = 1
        for step in 1...5 {
            let later = DevicePlane.Moment(
                wallMilliseconds: 1_763_800_000_000 + monotonic + UInt64(step) * 10_000,
                monotonicMilliseconds: monotonic + UInt64(step) * 10_000)
            publishes += Self.published(plane.tick(at: later)).count
        }
        #expect(publishes == 3)
        #expect(plane.commands[unanswered.id]?.status == .timedOut)
        // A late ack does not resurrect it.
        _ = send("valve-1", .cmdAck, #"{"id":"\#(unanswered.id)","status":"ok"}"#)
        #expect(plane.commands[unanswered.id]?.status == .timedOut)
    }

    @Test("a command's progress is replicated in the device's command history, so peers and the aggregator see it")
    mutating func commandHistory() throws {
        func history() -> [CommandHistory.Entry] {
            CommandHistory(registryValue: plane.state.registry.value(CommandHistory.registryField, of: "valve-1")).entries
        }
        let (command, sent) = plane.sendCommand(device: "valve-1", name: "open_valve", args: [:], fence: 7, at: now())
        #expect(history().map(\.status) == ["pending"])
        #expect(Self.persisted(sent).contains { $0.registry?.value(CommandHistory.registryField, of: "valve-1") != nil },
                "the history write is a delta the shell persists and replicates")
        _ = send("valve-1", .cmdAck, #"{"id":"\#(command.id)","status":"rejected","detail":"stale fence"}"#)
        #expect(history() == [CommandHistory.Entry(
            id: command.id, name: "open_valve", status: "rejected", createdMilliseconds: command.createdMilliseconds, detail: "stale fence")])

        // Another node (say after a failover) takes the history from the replicated state.
        var peer = DevicePlane(
            configuration: .init(site: Self.site, node: "edge-b"), state: plane.state, persistedClockBound: nil,
            at: .init(wallMilliseconds: 1_763_800_100_000, monotonicMilliseconds: 0))
        var ids = [command.id]
        for step in 1...CommandHistory.capacity {
            let moment = DevicePlane.Moment(wallMilliseconds: 1_763_800_100_000 + UInt64(step), monotonicMilliseconds: UInt64(step))
            ids.append(peer.sendCommand(device: "valve-1", name: "step-\(step)", args: [:], fence: 8, at: moment).0.id)
        }
        let merged = CommandHistory(registryValue: peer.state.registry.value(CommandHistory.registryField, of: "valve-1"))
        #expect(merged.entries.map(\.id) == Array(ids.suffix(CommandHistory.capacity)), "the newest commands, oldest first")
    }

    @Test("desired writes are merged and published retained with the newest HLC")
    mutating func desired() throws {
        _ = plane.setDesired(device: "th-1", fields: [("setpoint", .number(21)), ("mode", .string("heat"))], at: now())
        let actions = plane.setDesired(device: "th-1", fields: [("setpoint", .number(22.5))], at: now())
        let sent = Self.published(actions)
        #expect(sent.count == 1 && sent[0].retain && sent[0].topic == Self.topic("th-1", .desired))
        let payload = try DesiredPayload.decode(Array(sent[0].payload.utf8))
        #expect(payload.fields.map(\.name) == ["mode", "setpoint"])
        #expect(payload.fields.last?.value == .number(22.5))
        #expect(HLCTimestamp(payload.hlc) == plane.state.desired.field("setpoint", of: "th-1")?.stamp)
    }

    @Test("the clock's upper bound is handed to the shell to persist")
    mutating func clockBound() {
        let actions = send("th-1", .birth, #"{"profile":"thermostat"}"#)
        #expect(actions.contains { if case .persistClockBound = $0 { true } else { false } })
    }

    @Test("restarted from persisted state, the plane still recognises duplicates and keeps the HLC monotonic")
    mutating func restart() {
        var bound: UInt64?
        for case .persistClockBound(let value) in send("th-1", .birth, #"{"profile":"thermostat"}"#) { bound = value }
        for seq in 0..<50 as Range<UInt64> {
            for case .persistClockBound(let value) in telemetry("th-1", seq: seq) { bound = value }
        }
        let lastStamp = plane.clock.lastIssued
        var restarted = DevicePlane(
            configuration: plane.configuration, state: plane.state, devices: plane.devices, persistedClockBound: bound,
            at: .init(wallMilliseconds: 0, monotonicMilliseconds: 0))  // the board booted in 1970
        let duplicate = restarted.receive(
            topic: Self.topic("th-1", .telemetry), payload: Array(#"{"seq":49,"values":{"temp":1}}"#.utf8),
            at: .init(wallMilliseconds: 0, monotonicMilliseconds: 5))
        #expect(Self.persisted(duplicate).allSatisfy { $0.raw == nil && $0.rollups == nil })
        let fresh = restarted.receive(
            topic: Self.topic("th-1", .telemetry), payload: Array(#"{"seq":50,"values":{"temp":1}}"#.utf8),
            at: .init(wallMilliseconds: 0, monotonicMilliseconds: 6))
        #expect(Self.persisted(fresh).count == 1)
        #expect(restarted.clock.lastIssued > lastStamp)
    }
}

/// Failover: the node that takes a device over continues the stream the site stored.
@Suite("Device plane: taking a device over")
struct DeviceTakeoverTests {
    var owner = DevicePlaneTests()
    var successor = DevicePlane(
        configuration: .init(site: DevicePlaneTests.site, node: "edge-b"), persistedClockBound: nil,
        at: .init(wallMilliseconds: 1_763_800_000_000, monotonicMilliseconds: 0))

    /// What the successor's store holds of the owner's readings once gossip delivered them.
    mutating func replicateOwnerState(_ actions: [DevicePlane.Action]) {
        for delta in DevicePlaneTests.persisted(actions) { _ = successor.merge(remote: delta, at: .init(wallMilliseconds: 1_763_800_000_100, monotonicMilliseconds: 100)) }
    }

    mutating func successorReceives(_ device: String, seq: UInt64) -> [DevicePlane.Action] {
        successor.receive(
            topic: DevicePlaneTests.topic(device, .telemetry), payload: Array(#"{"seq":\#(seq),"values":{"temp":20}}"#.utf8),
            at: .init(wallMilliseconds: 1_763_800_001_000, monotonicMilliseconds: 1_000))
    }

    static func rawKeys(_ actions: [DevicePlane.Action]) -> [RawTelemetry.Key] {
        DevicePlaneTests.persisted(actions).flatMap { $0.raw?.readings.keys.map { $0 } ?? [] }
    }

    @Test("the successor files readings under the device's epoch, knows what is stored, and asks to replay only what is missing")
    mutating func successorContinuesStream() throws {
        var history = owner.send("th-1", .birth, #"{"profile":"thermostat","replay":true}"#)
        for seq in 0..<10 as Range<UInt64> where seq != 7 { history += owner.telemetry("th-1", seq: seq) }
        replicateOwnerState(history)
        let epoch = try #require(owner.plane.devices["th-1"]?.epoch)
        #expect(successor.replicatedEpoch(of: "th-1") == epoch)

        let adopted = successor.adopt(device: "th-1", storedSeqs: [0, 1, 2, 3, 4, 5, 6, 8, 9], at: .init(wallMilliseconds: 1_763_800_000_200, monotonicMilliseconds: 200))
        #expect(adopted.count == 1, "the adopted bookkeeping is persisted")
        let ingest = try #require(successor.devices["th-1"])
        #expect(ingest.epoch == epoch && ingest.lastSeq == 9 && ingest.supportsReplay && ingest.online)

        let next = successorReceives("th-1", seq: 10)
        #expect(Self.rawKeys(next) == [RawTelemetry.Key(device: "th-1", epoch: epoch, seq: 10)])
        #expect(DevicePlaneTests.published(next).isEmpty, "nothing missing before 10 but seq 7, which the owner already saw as a gap")
        let redelivered = successorReceives("th-1", seq: 4)
        #expect(Self.rawKeys(redelivered).isEmpty && successor.devices["th-1"]?.duplicates == 1, "seq 4 is stored already")
        let late = successorReceives("th-1", seq: 7)
        #expect(Self.rawKeys(late) == [RawTelemetry.Key(device: "th-1", epoch: epoch, seq: 7)], "a missing seq fills its gap")
        let skipped = successorReceives("th-1", seq: 13)
        #expect(DevicePlaneTests.published(skipped).map(\.payload) == [#"{"from":11,"to":12}"#])
    }

    @Test("without a replicated birth there is nothing to continue, and a device the site never stored starts at 0")
    mutating func nothingToAdopt() {
        #expect(successor.adopt(device: "ghost", storedSeqs: [], at: .init(wallMilliseconds: 1, monotonicMilliseconds: 1)).isEmpty)
        replicateOwnerState(owner.send("th-2", .birth, #"{"profile":"thermostat","replay":true}"#))
        _ = successor.adopt(device: "th-2", storedSeqs: [], at: .init(wallMilliseconds: 1_763_800_000_200, monotonicMilliseconds: 200))
        let first = successorReceives("th-2", seq: 3)
        #expect(DevicePlaneTests.published(first).map(\.payload) == [#"{"from":0,"to":2}"#], "seqs 0–2 never reached the site")
    }
}
