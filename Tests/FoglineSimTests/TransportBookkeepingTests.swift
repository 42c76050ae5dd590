import FoglineSim
import Testing

/// The bookkeeping `SimMQTTDriver` does around its MQTT clients, as values.
@Suite("Transport bookkeeping")
struct TransportBookkeepingTests {
    @Test("publishes pending at a reconnect are held, in order, and handed back once before the next birth")
    func heldAcrossSessions() {
        var publishes = SessionPublishes<String>(deviceCount: 2)
        publishes.sent("a", id: 1, device: 0)
        publishes.sent("b", id: 2, device: 0)
        publishes.sent("c", id: 3, device: 0)
        publishes.sent("x", id: 1, device: 1)
        publishes.acknowledged(id: 2, device: 0)
        #expect(publishes.hasPending(device: 0))

        #expect(publishes.holdPending(device: 0) == 2)
        #expect(!publishes.hasPending(device: 0))
        #expect(publishes.hasPending(device: 1), "devices are kept apart")
        // A second loss before the next birth: the new session's pending ones go after.
        publishes.sent("d", id: 1, device: 0)
        #expect(publishes.holdPending(device: 0) == 3)

        #expect(publishes.takeHeld(device: 0) == ["a", "c", "d"])
        #expect(publishes.takeHeld(device: 0) == [])
        #expect(publishes.takeHeld(device: 1) == [], "device 1 never reconnected: nothing held")
    }

    @Test("an acknowledged publish is never held")
    func acknowledgedNotHeld() {
        var publishes = SessionPublishes<String>(deviceCount: 1)
        publishes.sent("a", id: 7, device: 0)
        publishes.acknowledged(id: 7, device: 0)
        #expect(!publishes.hasPending(device: 0))
        #expect(publishes.holdPending(device: 0) == 0)
        #expect(publishes.takeHeld(device: 0) == [])
    }

    @Test("the fleet milestone completes once, on the last new device")
    func fleetMilestone() {
        var milestone = FleetMilestone(deviceCount: 3)
        let completions = [2, 2, 0, 1, 1].map { milestone.note($0) }
        // A device counts once, and the fleet completes only once: on device 1's first note.
        #expect(completions == [false, false, false, true, false])
        #expect(milestone.count == 3)
    }
}
