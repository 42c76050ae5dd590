public import FoglineCore
import Foundation

/// A reconcile batch as it travels in ``Fogline_V1_SyncBatch`` messages: the ``SiteDeltaCodec``
/// encoding, deflated when that makes it smaller, cut into parts that fit a broker's message
/// size limit. ``SyncBatchAssembler`` puts the parts back together.
public enum SyncBatchCodec {
    /// Encodings smaller than this travel as they are: DEFLATE's overhead outweighs its gain.
    public static let compressionThreshold = 256

    /// The parts of `delta` as batch `batchID`, each payload at most `maxPartBytes` bytes.
    public static func encode(_ delta: SiteDelta, batchID: UInt64, maxPartBytes: Int) -> [Fogline_V1_SyncBatch] {
        let encoded = SiteDeltaCodec.encode(delta)
        var payload = encoded
        var compression = Fogline_V1_Compression.none
        if encoded.count >= compressionThreshold {
            let deflated = Deflate.compress(encoded)
            if deflated.count < encoded.count {
                payload = deflated
                compression = .deflate
            }
        }
        let partBytes = max(1, maxPartBytes)
        let count = max(1, (payload.count + partBytes - 1) / partBytes)
        return (0..<count).map { index in
            let range = (index * partBytes)..<min(payload.count, (index + 1) * partBytes)
            return Fogline_V1_SyncBatch(
                batchID: batchID, partIndex: UInt32(index), partCount: UInt32(count), payload: Array(payload[range]),
                compression: compression)
        }
    }
}

/// Puts batches back together from their parts, which may arrive in any order and more than
/// once, and decodes each complete batch once. Bounded: at most ``Limits/maxPendingBatches``
/// incomplete batches (the oldest is dropped for a new one), ``Limits/maxParts`` parts and
/// ``Limits/maxBatchBytes`` per batch,
/// and an incomplete batch is dropped after ``Limits/partTimeoutMilliseconds``. A dropped batch
/// is never acknowledged, so its sender sends it again. Time is passed in.
public struct SyncBatchAssembler: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxPendingBatches = 16
        /// Most parts one batch may announce (each costs a slot while it is assembled).
        public var maxParts = 4_096
        /// Largest batch, compressed as it travels and once inflated.
        public var maxBatchBytes = 64 << 20
        public var partTimeoutMilliseconds: UInt64 = 30_000
        /// Limits on the decoded delta.
        public var decode = DecodeLimits()

        public init() {}
    }

    private struct Key: Hashable {
        var sender: String
        var batchID: UInt64
    }

    private struct Pending {
        var parts: [Data?]
        var compression: Fogline_V1_Compression
        /// The base, from part 0 (see ``Fogline_V1_SyncBatch/base``).
        var base = Fogline_V1_CausalContext()
        var bytes = 0
        var firstSeen: UInt64
    }

    /// A complete batch: its delta and the base its sender assumed the receiver holds.
    public struct Assembled: Sendable, Equatable {
        public var delta: SiteDelta
        public var base: CausalContext

        public init(delta: SiteDelta, base: CausalContext) {
            self.delta = delta
            self.base = base
        }
    }

    public let limits: Limits
    private var pending: [Key: Pending] = [:]

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Incomplete batches held.
    public var pendingCount: Int { pending.count }

    /// Adds one part from `sender`; returns the decoded batch when this part completed it.
    /// Throws, and forgets the batch, when a part contradicts the others or the batch is too
    /// large or does not decode.
    public mutating func add(_ part: Fogline_V1_SyncBatch, from sender: String, at now: UInt64) throws(WireError) -> SiteDelta? {
        try assemble(part, from: sender, at: now)?.delta
    }

    /// As ``add(_:from:at:)``, with the batch's base (carried by part 0).
    public mutating func assemble(
        _ part: Fogline_V1_SyncBatch, from sender: String, at now: UInt64
    ) throws(WireError) -> Assembled? {
        let key = Key(sender: sender, batchID: part.batchID)
        guard part.partCount >= 1, part.partCount <= limits.maxParts, part.partIndex < part.partCount else {
            throw .invalidValue(what: "sync batch part \(part.partIndex) of \(part.partCount)")
        }
        if part.partCount == 1 {
            pending[key] = nil
            return Assembled(
                delta: try decode([UInt8](part.payload), compression: part.compression),
                base: try part.base.toCausalContext(limits: limits.decode))
        }
        var batch = pending[key] ?? {
            if pending.count >= limits.maxPendingBatches, let oldest = pending.min(by: { $0.value.firstSeen < $1.value.firstSeen }) {
                pending[oldest.key] = nil
            }
            return Pending(parts: Array(repeating: nil, count: Int(part.partCount)), compression: part.compression, firstSeen: now)
        }()
        guard batch.parts.count == Int(part.partCount), batch.compression == part.compression else {
            pending[key] = nil
            throw .invalidValue(what: "sync batch \(part.batchID): parts disagree on their count or compression")
        }
        guard batch.parts[Int(part.partIndex)] == nil else { return nil }  // a duplicate
        batch.bytes += part.payload.count
        guard batch.bytes <= limits.maxBatchBytes else {
            pending[key] = nil
            throw .limitExceeded(what: "sync batch bytes", limit: limits.maxBatchBytes)
        }
        batch.parts[Int(part.partIndex)] = part.payload
        if part.partIndex == 0 { batch.base = part.base }
        guard batch.parts.allSatisfy({ $0 != nil }) else {
            pending[key] = batch
            return nil
        }
        pending[key] = nil
        var payload: [UInt8] = []
        payload.reserveCapacity(batch.bytes)
        for data in batch.parts { payload += data! }
        return Assembled(
            delta: try decode(payload, compression: batch.compression), base: try batch.base.toCausalContext(limits: limits.decode))
    }

    /// Drops incomplete batches first seen `partTimeoutMilliseconds` or more before `now`;
    /// returns how many.
    @discardableResult
    public mutating func expire(at now: UInt64) -> Int {
        let before = pending.count
        pending = pending.filter { now < $0.value.firstSeen + limits.partTimeoutMilliseconds }
        return before - pending.count
    }

    private func decode(_ payload: [UInt8], compression: Fogline_V1_Compression) throws(WireError) -> SiteDelta {
        switch compression {
        case .none:
            return try SiteDeltaCodec.decode(payload, limits: limits.decode)
        case .deflate:
            return try SiteDeltaCodec.decode(
                try Deflate.decompress(payload, maxBytes: min(limits.maxBatchBytes, limits.decode.maxBytes)), limits: limits.decode)
        case .UNRECOGNIZED(let value):
            throw .invalidValue(what: "sync batch compression \(value)")
        }
    }
}
