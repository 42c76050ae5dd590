import FoglineCore
import FoglineTesting
import FoglineWire
import Testing

@Suite("Quorum messages and acceptor records")
struct QuorumCodecTests {
    static func ballot(_ random: inout SeededRandom) -> Ballot {
        Ballot(counter: random.next() >> UInt64(random.int(in: 0...63)), node: NodeID(rawValue: random.next()))
    }

    static func value(_ random: inout SeededRandom) -> RegisterValue {
        let content: RegisterValue.Content = switch random.int(in: 0...2) {
        case 0: .absent
        case 1: .data(random.bytes(count: random.int(in: 0...40)))
        default: .lease(LeaseRecord(
            holder: random.chance(0.7) ? "holder-\(random.int(in: 0...9))" : nil, token: random.next(),
            ttlMilliseconds: UInt64(random.int(in: 0...60_000)), renewal: UInt64(random.int(in: 0...5))))
        }
        let writers = (0..<random.int(in: 0...RegisterValue.writerHistory)).map { _ in
            OperationID(node: NodeID(rawValue: random.next()), incarnation: UInt64(random.int(in: 0...9)), sequence: random.next())
        }
        return RegisterValue(version: UInt64(writers.count) + (random.next() >> 8), content: content, writers: writers)
    }

    static func message(_ random: inout SeededRandom) -> QuorumMessage {
        let key = random.pick(["kv/a", "lease/shard/3", "lease/role/cloud-uplink"])
        switch random.int(in: 0...6) {
        case 0: return .prepare(key: key, ballot: ballot(&random))
        case 1:
            let accepted = random.chance(0.7) ? AcceptedValue(ballot: ballot(&random), value: value(&random)) : nil
            return .promise(key: key, ballot: ballot(&random), accepted: accepted, leaseRemainingMilliseconds: UInt64(random.int(in: 0...9_000)))
        case 2: return .accept(key: key, ballot: ballot(&random), value: value(&random), leaseHoldMilliseconds: UInt64(random.int(in: 0...9_000)))
        case 3: return .accepted(key: key, ballot: ballot(&random))
        case 4: return .confirm(key: key, ballot: ballot(&random), nonce: random.next())
        case 5: return .confirmed(key: key, ballot: ballot(&random), nonce: random.next())
        default: return .reject(key: key, ballot: ballot(&random), highestSeen: ballot(&random))
        }
    }

    @Test("every quorum message round-trips through a PeerFrame", arguments: PropertySeeds.seeds(default: 20))
    func messagesRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        for _ in 0..<50 {
            let message = Self.message(&random)
            let frame = Fogline_V1_PeerFrame(
                from: "edge-a", site: "plant-1", sentAt: HLCTimestamp(milliseconds: 1, counter: 0, node: NodeID(name: "edge-a")),
                body: QuorumCodec.body(message))
            let decoded = try PeerFrameCodec.decode(PeerFrameCodec.encode(frame))
            #expect(try decoded.body.flatMap(QuorumCodec.message) == message, "seed \(seed)")
        }
    }

    @Test("acceptor records round-trip", arguments: PropertySeeds.seeds(default: 10))
    func recordsRoundTrip(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        for _ in 0..<50 {
            let record = Acceptor.Record(
                promised: Self.ballot(&random),
                accepted: random.chance(0.7) ? AcceptedValue(ballot: Self.ballot(&random), value: Self.value(&random)) : nil)
            #expect(try QuorumCodec.decodeAcceptorRecord(QuorumCodec.encode(record)) == record, "seed \(seed)")
        }
    }

    @Test("a quorum body without its ballot or value is refused, not guessed")
    func missingFields() {
        var accept = Fogline_V1_PaxosAccept()
        accept.key = "kv/a"
        accept.ballot = Fogline_V1_Ballot(Ballot(counter: 1, node: NodeID(rawValue: 1)))
        #expect(throws: WireError.missingField("PaxosAccept.value")) { try QuorumCodec.message(.paxosAccept(accept)) }
        var prepare = Fogline_V1_PaxosPrepare()
        prepare.key = "kv/a"
        #expect(throws: WireError.missingField("PaxosPrepare.ballot")) { try QuorumCodec.message(.paxosPrepare(prepare)) }
        var confirm = Fogline_V1_PaxosConfirm()
        confirm.key = "kv/a"
        #expect(throws: WireError.missingField("PaxosConfirm.ballot")) { try QuorumCodec.message(.paxosConfirm(confirm)) }
        var confirmed = Fogline_V1_PaxosConfirmed()
        confirmed.key = "kv/a"
        #expect(throws: WireError.missingField("PaxosConfirmed.ballot")) { try QuorumCodec.message(.paxosConfirmed(confirmed)) }
        var promise = Fogline_V1_PaxosPromise()
        promise.key = "kv/a"
        promise.ballot = accept.ballot
        promise.acceptedBallot = accept.ballot
        #expect(throws: WireError.self) { try QuorumCodec.message(.paxosPromise(promise)) }
        #expect(throws: WireError.self) { try QuorumCodec.decodeAcceptorRecord([0xFF, 0x01]) }
    }
}
