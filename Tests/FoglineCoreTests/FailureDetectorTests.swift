import FoglineCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FoglineTesting
import Testing

@Suite("Phi-accrual failure detector")
struct FailureDetectorTests {
    let start: UInt64 = 1_000_000

    /// A detector fed `count` heartbeats `interval` ms apart from `start`; returns the last time.
    func regular(count: Int, interval: UInt64 = 500) -> (PhiAccrualFailureDetector, UInt64) {
        var detector = PhiAccrualFailureDetector()
        var now = start
        for _ in 0..<count {
            detector.heartbeat(at: now)
            now += interval
        }
        return (detector, now - interval)
    }

    @Test("phi is 0 before the first heartbeat and grows monotonically with silence")
    func monotonic() {
        #expect(PhiAccrualFailureDetector().phi(at: start) == 0)
        let (detector, last) = regular(count: 30)
        var previous = -1.0
        for silence in stride(from: UInt64(0), through: 60_000, by: 7) {
            let phi = detector.phi(at: last + silence)
            #expect(phi >= previous && phi.isFinite, "silence \(silence): \(phi) after \(previous)")
            previous = phi
        }
        #expect(previous > 1_000)
    }

    @Test("phi is -log10 of the normal tail beyond the silence")
    func normalTail() {
        // 250 regular intervals push the two seeded estimates out of the 200-interval window:
        // mean 500, deviation 0, so the 100 ms floor applies and mean + pause = 1,500.
        let (detector, last) = regular(count: 252)
        #expect(detector.meanIntervalMilliseconds == 500 && detector.intervalStandardDeviationMilliseconds == 0)
        // Tail probabilities of the standard normal at 0, 1, 2 and 3 deviations.
        for (deviations, tail) in [(0, 0.5), (1, 0.158_655), (2, 0.022_750), (3, 0.001_350)] {
            let phi = detector.phi(at: last + 1_500 + UInt64(deviations * 100))
            #expect(abs(phi - -log10(tail)) < 0.05, "\(deviations)σ: \(phi)")
        }
    }

    @Test("regular heartbeats keep phi low")
    func regularIsLow() {
        var detector = PhiAccrualFailureDetector()
        var now = start
        for _ in 0..<500 {
            detector.heartbeat(at: now)
            now += 500
            #expect(detector.phi(at: now) < 0.5)
            #expect(detector.isAvailable(at: now))
        }
    }

    @Test("a peer silent for interval + pause + a few standard deviations is suspected")
    func silenceIsSuspected() {
        let (detector, last) = regular(count: 50)
        // Regular beats: the deviation is the 100 ms floor; mean + pause = 1,500 ms.
        #expect(detector.isAvailable(at: last + 500 + 1_000))
        #expect(!detector.isAvailable(at: last + 500 + 1_000 + 6 * 100))
        #expect(detector.phi(at: last + 500 + 1_000 + 6 * 100) >= 8)
    }

    @Test("a suspected peer recovers once heartbeats resume")
    func recovery() {
        var (detector, last) = regular(count: 50)
        let back = last + 30_000
        #expect(!detector.isAvailable(at: back))
        detector.heartbeat(at: back)
        #expect(detector.isAvailable(at: back))
        // The long gap is not learned as a normal interval, so detection stays as sharp.
        #expect(detector.meanIntervalMilliseconds < 600)
        var now = back
        for _ in 0..<5 {
            now += 500
            detector.heartbeat(at: now)
        }
        #expect(detector.phi(at: now + 500) < 0.5)
        #expect(!detector.isAvailable(at: now + 500 + 1_000 + 6 * 100))
    }

    @Test("a heartbeat older than the last is ignored")
    func outOfOrder() {
        var (detector, last) = regular(count: 10)
        let before = detector.meanIntervalMilliseconds
        detector.heartbeat(at: last - 300)
        #expect(detector.lastHeartbeat == last)
        #expect(detector.meanIntervalMilliseconds == before)
    }

    @Test("jittery heartbeats widen the tolerance", arguments: PropertySeeds.seeds(default: 30))
    func jitterWidensTolerance(seed: UInt64) {
        var random = SeededRandom(seed: seed)
        var steady = PhiAccrualFailureDetector()
        var jittery = PhiAccrualFailureDetector()
        var steadyNow = start
        var jitteryNow = start
        for _ in 0..<200 {
            steady.heartbeat(at: steadyNow)
            jittery.heartbeat(at: jitteryNow)
            steadyNow += 500
            jitteryNow += UInt64(random.int(in: 100...900))
        }
        steadyNow = steady.lastHeartbeat!
        jitteryNow = jittery.lastHeartbeat!
        #expect(jittery.intervalStandardDeviationMilliseconds > 150, "seed \(seed)")
        // The same silence: mean + pause + 6 × the minimum deviation.
        let silence: UInt64 = 500 + 1_000 + 600
        let steadyPhi = steady.phi(at: steadyNow + silence)
        let jitteryPhi = jittery.phi(at: jitteryNow + silence)
        #expect(jitteryPhi < steadyPhi, "seed \(seed): \(jitteryPhi) vs \(steadyPhi)")
        #expect(!steady.isAvailable(at: steadyNow + silence), "seed \(seed)")
        #expect(jittery.isAvailable(at: jitteryNow + silence), "seed \(seed): phi \(jitteryPhi)")
    }
}

@Suite("Membership view")
struct MembershipViewTests {
    let members = ["edge-a", "edge-b", "edge-c"]

    @Test("self is always live; a peer is live once heard from and until it falls silent")
    func liveness() {
        var view = MembershipView(selfName: "edge-a", members: members)
        #expect(view.liveMembers(at: 0) == ["edge-a"])
        #expect(view.peers == ["edge-b", "edge-c"])
        var now: UInt64 = 10_000
        for _ in 0..<20 {
            view.heartbeat(from: "edge-b", at: now)
            view.heartbeat(from: "edge-c", at: now)
            now += 500
        }
        #expect(view.liveMembers(at: now) == members)
        // edge-c goes quiet; edge-b keeps beating.
        for _ in 0..<10 {
            view.heartbeat(from: "edge-b", at: now)
            now += 500
        }
        #expect(view.liveMembers(at: now) == ["edge-a", "edge-b"])
        #expect(view.phi(of: "edge-a", at: now) == 0)
        #expect(view.phi(of: "edge-c", at: now)! >= 8)
        #expect(view.phi(of: "stranger", at: now) == nil)
    }

    @Test("heartbeats from non-members change nothing")
    func strangers() {
        var view = MembershipView(selfName: "edge-a", members: members)
        view.heartbeat(from: "edge-z", at: 1)
        view.heartbeat(from: "edge-a", at: 1)
        #expect(view.liveMembers(at: 2) == ["edge-a"])
    }

    @Test("configuration defaults")
    func defaults() {
        let configuration = MembershipView.Configuration()
        #expect(configuration.threshold == 8)
        #expect(configuration.heartbeatIntervalMilliseconds == 500)
        #expect(configuration.acceptableHeartbeatPauseMilliseconds == 1_000)
        #expect(configuration.minStdDeviationMilliseconds == 100)
        #expect(configuration.windowSize == 200)
    }
}
