@testable import FoglineMQTT
import FoglineTesting
import Testing

@Suite("MQTT message queue")
struct MQTTMessageQueueTests {
    private static func message(_ number: Int) -> MQTTMessage {
        MQTTMessage(topic: "t/\(number % 7)", text: "\(number)")
    }

    @Test("random offers and batch takes behave as a bounded FIFO that refuses when full")
    func boundedFIFO() async {
        for seed in PropertySeeds.seeds(default: 200) {
            var random = SeededRandom(seed: seed)
            let capacity = random.int(in: 1...40)
            let queue = MQTTMessageQueue(capacity: capacity)
            var model: [MQTTMessage] = []
            var next = 0
            for _ in 0..<random.int(in: 1...300) {
                if random.chance(0.6) {
                    let message = Self.message(next)
                    next += 1
                    let expected: MQTTMessageQueue.Offer = model.count < capacity ? .enqueued : .dropped
                    if expected == .enqueued { model.append(message) }
                    #expect(queue.offer(message) == expected, "seed \(seed)")
                } else if !model.isEmpty {
                    let maximum = random.int(in: 1...50)
                    let batch = await queue.nextBatch(maximum: maximum)
                    let taken = Array(model.prefix(maximum))
                    model.removeFirst(taken.count)
                    #expect(batch == taken, "seed \(seed)")
                }
                #expect(queue.count == model.count, "seed \(seed)")
            }
            queue.finish()
            var rest: [MQTTMessage] = []
            while let batch = await queue.nextBatch(maximum: random.int(in: 1...10)) { rest += batch }
            #expect(rest == model, "seed \(seed)")
            #expect(queue.offer(Self.message(next)) == .finished, "seed \(seed)")
        }
    }

    @Test("a suspended reader is woken by the next offer, and by finish")
    func wakesSuspendedReader() async throws {
        let queue = MQTTMessageQueue(capacity: 4)
        let reader = Task { await queue.nextBatch(maximum: 10) }
        try await eventually("the reader suspended") { queue.hasSuspendedReader }
        #expect(queue.offer(Self.message(1)) == .enqueued)
        #expect(await reader.value == [Self.message(1)])

        let last = Task { await queue.nextBatch(maximum: 10) }
        try await eventually("the reader suspended") { queue.hasSuspendedReader }
        queue.finish()
        #expect(await last.value == nil)
    }

    @Test("cancelling a suspended reader returns nil and leaves later messages to the next reader")
    func cancelledReader() async throws {
        let queue = MQTTMessageQueue(capacity: 4)
        let reader = Task { await queue.nextBatch(maximum: 10) }
        try await eventually("the reader suspended") { queue.hasSuspendedReader }
        reader.cancel()
        #expect(await reader.value == nil)
        #expect(!queue.hasSuspendedReader)
        #expect(queue.offer(Self.message(2)) == .enqueued)
        #expect(await queue.nextBatch(maximum: 10) == [Self.message(2)])
    }

    @Test("iterating yields every message in order, then ends after finish")
    func iteration() async {
        let queue = MQTTMessageQueue(capacity: 100)
        let sent = (0..<100).map(Self.message)
        for message in sent { #expect(queue.offer(message) == .enqueued) }
        queue.finish()
        var received: [MQTTMessage] = []
        for await message in queue { received.append(message) }
        #expect(received == sent)
    }
}
