import FoglineCore
import Testing

/// What a node does with an untrusted clock (1970 boot, NTP not synced) and with a peer whose
/// clock runs ahead: the pure parts, with injected clocks.
@Suite("clock trust, the lease gate and peer clocks")
struct ClockGateTests {
    static let nov2025: UInt64 = 1_763_800_000_000
    static let hour: UInt64 = 3_600_000

    @Test("a first boot in 1970 (no persisted bound) is untrusted too; an NTP step forward makes it trusted")
    func firstBootIn1970() {
        var clock = HybridLogicalClock(node: NodeID(name: "edge-a"), persistedBound: nil, wallMilliseconds: 5_000)
        guard case .untrusted(let behind) = clock.trust(wallMilliseconds: 5_000) else {
            Issue.record("a wall clock in 1970 must never be trusted")
            return
        }
        #expect(behind >= HybridLogicalClock.Configuration.defaultMinimumTrustedWallMilliseconds - 5_000)
        let before = clock.now(wallMilliseconds: 6_000).timestamp
        let after = clock.now(wallMilliseconds: Self.nov2025).timestamp
        #expect(after > before && after.milliseconds == Self.nov2025)
        #expect(clock.trust(wallMilliseconds: Self.nov2025) == .trusted)
    }

    @Test("the gate refuses new leases while untrusted within the grace, and allows them once trusted or after it")
    func leaseGate() {
        let gate = LeaseClockGate(graceMilliseconds: 60_000)
        let untrusted = HybridLogicalClock.Trust.untrusted(behindByMilliseconds: Self.hour)
        #expect(gate.state(trust: untrusted, monotonicMilliseconds: 1_000) == .waiting(remainingMilliseconds: 59_000))
        #expect(!gate.allowsNewLeases(trust: untrusted, monotonicMilliseconds: 59_999))
        #expect(gate.allowsNewLeases(trust: .trusted, monotonicMilliseconds: 1_000))
        #expect(gate.state(trust: .trusted, monotonicMilliseconds: 1_000) == .trusted)
        #expect(gate.state(trust: untrusted, monotonicMilliseconds: 60_000) == .graceElapsed)
        #expect(gate.allowsNewLeases(trust: untrusted, monotonicMilliseconds: 60_000))
        #expect(LeaseClockGate(graceMilliseconds: 0).allowsNewLeases(trust: untrusted, monotonicMilliseconds: 0), "grace 0: never wait")
    }

    @Test("a peer an hour ahead is rejected; within max offset, or behind, it is accepted; an untrusted node judges nobody")
    func peerClock() {
        func verdict(_ sentAt: UInt64, trusted: Bool = true) -> PeerClockCheck.Verdict {
            PeerClockCheck.verdict(
                sentAtMilliseconds: sentAt, wallMilliseconds: Self.nov2025, maxOffsetMilliseconds: 500, localClockTrusted: trusted)
        }
        #expect(verdict(Self.nov2025 + Self.hour) == .aheadBy(milliseconds: Self.hour))
        #expect(verdict(Self.nov2025 + 501) == .aheadBy(milliseconds: 501))
        #expect(verdict(Self.nov2025 + 500) == .accepted)
        #expect(verdict(Self.nov2025 - Self.hour) == .accepted, "a peer behind cannot poison anything: its stamps lose")
        #expect(verdict(Self.nov2025 + Self.hour, trusted: false) == .accepted)
    }

    @Test("a coordinator that takes no new leases proposes nothing for shards and roles; once allowed it acquires them")
    func coordinatorHoldsBack() {
        var configuration = SiteCoordinator.Configuration(node: "edge-a", members: ["edge-a"])
        configuration.shardCount = 4
        var coordinator = SiteCoordinator(configuration: configuration, acceptorRecords: [:], incarnation: 1, at: 0)
        coordinator.takesNewLeases = false
        for now in stride(from: UInt64(0), through: 5_000, by: 50) {
            let sends = coordinator.tick(at: now).filter { if case .send = $0 { true } else { false } }
            #expect(sends.isEmpty, "at \(now)")
        }
        coordinator.takesNewLeases = true
        let outputs = coordinator.tick(at: 5_050)
        let prepared = Set(outputs.compactMap { output -> String? in if case .send(let message, _) = output { message.key } else { nil } })
        #expect(prepared.isSuperset(of: ["shard/0", "shard/1", "shard/2", "shard/3", "role/cloud-uplink"]), "\(prepared)")
    }
}
