import FoglineCore

/// The bookkeeping of ``QuorumService``'s group commit, as a value with no I/O: which writes go
/// into the next fsynced batch, and which effects (replies, messages, completions) may leave once
/// which batch is on disk.
///
/// Writes made while a batch is being written form the next one (the latest record per key
/// wins). An effect that concerns one key waits for the latest batch that wrote that key, and
/// leaves at once when that batch is already durable; an effect that sums up many keys waits for
/// every batch so far. A batch that fails to commit is folded into the next one, and what waited
/// for it waits for that one instead.
struct GroupCommit<Effect> {
    /// One batch to write in one transaction.
    struct Batch {
        var number: UInt64
        var records: [(key: String, record: Acceptor.Record)]
        var audit: [AuditEntry]
    }

    private var records: [String: Acceptor.Record] = [:]
    private var audit: [AuditEntry] = []
    /// The number of the batch being built; batches up to `durable` are on disk.
    private var building: UInt64 = 1
    private(set) var durable: UInt64 = 0
    /// The latest batch that wrote each key, while it is not durable.
    private var lastWritten: [String: UInt64] = [:]
    /// Effects waiting for a batch, in the order they were produced.
    private var held: [(batch: UInt64, effect: Effect)] = []

    /// Whether writes wait for a batch to take them.
    var hasWrites: Bool { !records.isEmpty || !audit.isEmpty }

    /// Effects still waiting for a batch.
    var heldCount: Int { held.count }

    mutating func write(_ record: Acceptor.Record, key: String) {
        records[key] = record
        lastWritten[key] = building
    }

    mutating func write(_ entry: AuditEntry) {
        audit.append(entry)
        lastWritten[entry.key] = building
    }

    /// `effect` if it may leave now; otherwise it is held until what it depends on is durable:
    /// the latest write of `key`, or with `key` `nil` every write so far.
    mutating func release(_ effect: Effect, dependingOn key: String?) -> Effect? {
        let batch = key.map { lastWritten[$0] ?? 0 } ?? (hasWrites ? building : building - 1)
        guard batch > durable else { return effect }
        held.append((batch, effect))
        return nil
    }

    /// Takes the writes made so far as the next batch to write, if there are any.
    mutating func takeBatch() -> Batch? {
        guard hasWrites else { return nil }
        defer {
            building += 1
            records = [:]
            audit = []
        }
        return Batch(number: building, records: records.map { (key: $0.key, record: $0.value) }, audit: audit)
    }

    /// `batch` is on disk: the effects that waited for it, in the order they were produced.
    mutating func committed(_ batch: Batch) -> [Effect] {
        durable = batch.number
        lastWritten = lastWritten.filter { $0.value > batch.number }
        var ready: [Effect] = []
        var later: [(batch: UInt64, effect: Effect)] = []
        for item in held {
            if item.batch <= batch.number { ready.append(item.effect) } else { later.append(item) }
        }
        held = later
        return ready
    }

    /// `batch` could not be written: its writes join the batch being built (unless newer records
    /// of the same keys replace them), and what waited for it waits for that batch, except the
    /// effects `abandons` accepts, which are returned for the caller to give up on.
    mutating func failed(_ batch: Batch, abandoning abandons: (Effect) -> Bool) -> [Effect] {
        for (key, record) in batch.records where records[key] == nil { records[key] = record }
        audit = batch.audit + audit
        for key in batch.records.map(\.key) + batch.audit.map(\.key) { lastWritten[key] = building }
        var abandoned: [Effect] = []
        held = held.compactMap { item in
            guard item.batch == batch.number else { return item }
            if abandons(item.effect) {
                abandoned.append(item.effect)
                return nil
            }
            return (building, item.effect)
        }
        return abandoned
    }

    /// Forgets every held effect (the service is shutting down).
    mutating func dropHeld() {
        held = []
    }
}
