import FoglineCore
import FoglineTesting
import Testing

/// Two replicas joined by one in-memory link, each end a ``ReconcileSession``: messages wait in
/// a queue per direction until the test delivers or drops them.
private struct Link {
    enum Message {
        case hello(ReplicaSummary, wantsReply: Bool)
        case batch(id: UInt64, base: CausalContext, SiteDelta)
        case ack(id: UInt64, merged: Bool, ReplicaSummary)
    }

    var states: [SiteState]
    var sessions: [ReconcileSession]
    /// `queues[i]`: messages on their way to side `i`.
    var queues: [[Message]] = [[], []]
    var now: UInt64 = 0
    /// Entries in the batches each side sent.
    var entriesSent = [0, 0]

    init(_ a: SiteState, _ b: SiteState, maxBatchEntries: Int = 5_000) {
        states = [a, b]
        var configuration = ReconcileSession.Configuration()
        configuration.maxBatchEntries = maxBatchEntries
        sessions = [ReconcileSession(configuration: configuration), ReconcileSession(configuration: configuration)]
    }

    mutating func connect() {
        for side in 0...1 { perform(sessions[side].connected(local: states[side], at: now), by: side) }
    }

    mutating func perform(_ actions: [ReconcileSession.Action], by side: Int) {
        let other = 1 - side
        for action in actions {
            switch action {
            case .sendHello(let summary, let wantsReply): queues[other].append(.hello(summary, wantsReply: wantsReply))
            case .sendBatch(let id, let base, let batch):
                entriesSent[side] += batch.entryCount
                queues[other].append(.batch(id: id, base: base, batch))
            case .merge(let batch): states[side].merge(batch)
            case .acknowledge(let id, let merged): queues[other].append(.ack(id: id, merged: merged, states[side].summary))
            }
        }
    }

    /// Delivers the next message to `side` (or drops it); `false` when none waits.
    @discardableResult
    mutating func deliverNext(to side: Int, drop: Bool = false) -> Bool {
        guard !queues[side].isEmpty else { return false }
        let message = queues[side].removeFirst()
        guard !drop else { return true }
        let actions: [ReconcileSession.Action]
        switch message {
        case .hello(let summary, let wantsReply):
            actions = sessions[side].receivedHello(summary, wantsReply: wantsReply, local: states[side], at: now)
        case .batch(let id, let base, let batch):
            actions = sessions[side].receivedBatch(id: id, base: base, batch, local: states[side])
        case .ack(let id, let merged, let summary):
            actions = sessions[side].receivedAcknowledgement(id: id, merged: merged, summary: summary, local: states[side], at: now)
        }
        perform(actions, by: side)
        if case .batch = message { perform(sessions[side].pump(local: states[side], at: now), by: side) }
        return true
    }

    /// Delivers everything, both ways, until the link is quiet.
    mutating func settle() {
        while deliverNext(to: 0) || deliverNext(to: 1) {}
    }

    mutating func tick(by milliseconds: UInt64) {
        now += milliseconds
        for side in 0...1 { perform(sessions[side].tick(local: states[side], at: now), by: side) }
    }
}

extension SiteDelta {
    /// Entries carried, over every part but the alarm kernel.
    fileprivate var entryCount: Int {
        var count = 0
        func add(_ store: (some EntryDotStore)?) { store?.forEachDot { _ in count += 1 } }
        add(registry)
        add(presence)
        add(reported)
        add(desired)
        add(counters)
        add(rollups)
        add(raw)
        return count
    }
}

private func randomPair(seed: UInt64, operations: Int = 120) -> (SiteState, SiteState) {
    let states = SiteStateLawTests.randomStates(seed: seed, writers: 3, operations: operations)
    return (states[0], states[1])
}

/// The state of one writer after `writes` random writes.
private func writtenState(seed: UInt64, writes: Int) -> SiteState {
    var writer = RandomSiteWriter(name: "edge-a")
    var random = SeededRandom(seed: seed)
    for _ in 0..<writes { _ = writer.randomOperation(using: &random) }
    return writer.state
}

private func joined(_ a: SiteState, _ b: SiteState) -> SiteState {
    var result = a
    result.merge(b)
    return result
}

@Suite("Reconciliation: batches and sessions")
struct ReconcileSessionTests {
    @Test("batches of at most N entries, merged in turn, bring the receiver to the join; each covers only what the sender holds", arguments: PropertySeeds.seeds(default: 60))
    func batchesReachTheJoin(seed: UInt64) {
        let (sender, original) = randomPair(seed: seed)
        let limit = Int(seed % 7) + 1
        var receiver = original
        var rounds = 0
        while let batch = sender.batch(since: receiver.summary, maxEntries: limit) {
            #expect(batch.entryCount <= limit)
            #expect(sender.context.includes(batch.context), "a batch claims a dot the sender does not hold")
            let before = receiver
            receiver.merge(batch)
            rounds += 1
            if receiver == before { break }  // nothing changed: the next call would repeat it
        }
        #expect(receiver == joined(original, sender), "seed \(seed): \(rounds) batches of \(limit)")
        #expect(receiver.context.includes(sender.context))
    }

    @Test("two sessions over a clean link end equal to the join, each write crossing once", arguments: PropertySeeds.seeds(default: 40))
    func cleanLinkConverges(seed: UInt64) {
        let (a, b) = randomPair(seed: seed)
        var link = Link(a, b, maxBatchEntries: 5)
        link.connect()
        link.settle()
        let join = joined(a, b)
        #expect(link.states[0] == join && link.states[1] == join)
        // Each side sent at most what the other lacked, not its whole state, and nothing came back.
        #expect(link.entriesSent[0] <= a.batch(since: b.summary, maxEntries: .max)?.entryCount ?? 0)
        #expect(link.entriesSent[1] <= b.batch(since: a.summary, maxEntries: .max)?.entryCount ?? 0)
        #expect(link.sessions.allSatisfy { $0.batchesInFlight == 0 })
    }

    @Test("a replica that receives a write never sends it back to where it came from")
    func neverBackToOrigin() {
        let written = writtenState(seed: 7, writes: 50)
        var link = Link(written, SiteState(), maxBatchEntries: 4)
        link.connect()
        link.settle()
        #expect(link.states[1] == written)
        #expect(link.entriesSent[1] == 0, "the receiver echoed \(link.entriesSent[1]) entries")
    }

    @Test("a lost batch makes the next one refused; the sender starts again from what the receiver holds")
    func lostBatchIsResent() {
        let written = writtenState(seed: 11, writes: 60)
        var link = Link(written, SiteState(), maxBatchEntries: 3)
        link.connect()
        // Hellos both ways: side 0 then has batches in flight to side 1.
        link.deliverNext(to: 1)
        link.deliverNext(to: 0)
        #expect(link.sessions[0].batchesInFlight > 1)
        var refused = false
        // Drop the first batch, deliver the rest: the second is refused (its base is the first).
        while case .hello = link.queues[1].first { link.deliverNext(to: 1) }
        link.deliverNext(to: 1, drop: true)
        link.deliverNext(to: 1)
        if case .ack(_, let merged, _)? = link.queues[0].last { refused = !merged }
        #expect(refused, "a batch whose base was lost was merged")
        link.settle()
        #expect(link.states[1] == written)
    }

    @Test("what the other side is known to hold is unknown until it speaks, then survives a disconnect")
    func knownRemoteHolds() {
        let written = writtenState(seed: 17, writes: 25)
        var link = Link(written, SiteState())
        link.connect()
        #expect(link.sessions[0].knownRemoteHolds == nil, "nothing heard yet: nothing may be assumed held")
        link.settle()
        let held = link.sessions[0].knownRemoteHolds
        #expect(held != nil && held!.includes(written.context), "after acknowledgements the receiver holds every write")
        link.sessions[0].disconnected()
        #expect(link.sessions[0].knownRemoteHolds == held, "a dropped link forgets nothing the other side said")
    }

    @Test("batch ids carry the session's prefix in their high bits")
    func batchIDPrefix() {
        var session = ReconcileSession(configuration: .init(), batchIDPrefix: 7)
        let written = writtenState(seed: 3, writes: 5)
        _ = session.connected(local: written, at: 0)
        let sent = session.receivedHello(SiteState().summary, wantsReply: false, local: written, at: 0)
        let ids = sent.compactMap { if case .sendBatch(let id, _, _) = $0 { id } else { nil } }
        #expect(ids.first == 7 << 32 | 1, "\(sent)")
    }

    @Test("an unacknowledged batch is sent again after the timeout; an unanswered hello too")
    func timeouts() {
        let written = writtenState(seed: 5, writes: 20)
        var link = Link(written, SiteState())
        link.connect()
        link.deliverNext(to: 0, drop: true)  // side 1's hello is lost
        link.tick(by: link.sessions[1].configuration.helloRetryMilliseconds)
        #expect(link.queues[0].count == 1, "the hello was not repeated")
        link.deliverNext(to: 0)  // side 0 opens and sends its batch…
        link.deliverNext(to: 1)  // …side 1 opens on side 0's hello, answers
        while !link.queues[1].isEmpty { link.deliverNext(to: 1, drop: true) }  // …and the batch is lost
        link.settle()
        #expect(link.states[1] != written)
        link.tick(by: link.sessions[0].configuration.ackTimeoutMilliseconds)
        link.settle()
        #expect(link.states[1] == written)
    }

    @Test("a hello from a side that lost state replaces what was known of it: everything is sent again")
    func helloAfterLoss() {
        let written = writtenState(seed: 3, writes: 30)
        var link = Link(written, SiteState())
        link.connect()
        link.settle()
        #expect(link.states[1] == written)
        // Side 1 comes back empty (its disk was replaced) and reconnects.
        link.states[1] = SiteState()
        link.sessions[0].disconnected()
        link.sessions[1].disconnected()
        link.connect()
        link.settle()
        #expect(link.states[1] == written)
    }
}
