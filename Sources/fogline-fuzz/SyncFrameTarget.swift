import Crypto
import FoglineCore
import FoglineWire

/// Edge ↔ cloud sync frames as the aggregator and the uplink receive them: the envelope, the
/// signature check, the summaries and audit entries, and batch parts through the assembler
/// (decompression, the delta decoder, a merge). The input is a list of frames, each a 2-byte
/// big-endian length and the frame's bytes; one assembler sees them all, so multi-part batches
/// can be completed, contradicted or duplicated.
enum SyncFrameTarget {
    static let publicKey = try? Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 3, count: 32)).publicKey

    static func run(_ input: UnsafeRawBufferPointer) {
        var assembler = SyncBatchAssembler()
        var state = SiteState()
        var index = input.startIndex
        var now: UInt64 = 0
        while index + 2 <= input.endIndex {
            let length = Int(input[index]) << 8 | Int(input[index + 1])
            index += 2
            let end = min(input.endIndex, index + length)
            let bytes = input[index..<end]
            index = end
            now += 1_000
            guard let frame = try? SyncFrameCodec.decode(bytes) else { continue }
            if let publicKey { _ = SyncFrameSignature.isValid(frame, for: publicKey) }
            switch frame.body {
            case .batch(let part):
                if let assembled = try? assembler.assemble(part, from: frame.node, at: now) { state.merge(assembled.delta) }
            case .hello(let hello):
                _ = try? hello.toReplicaSummary()
            case .ack(let ack):
                _ = try? ack.toReplicaSummary()
            case .audit(let audit):
                let entries = audit.entries.compactMap { try? $0.toAuditEntry() }
                _ = AuditChain.verify(entries)
            default:
                break
            }
            _ = assembler.expire(at: now)
        }
    }
}
