public import FoglineCore
internal import SwiftProtobuf
#if canImport(FoundationEssentials)
internal import FoundationEssentials
#else
internal import Foundation
#endif

/// Converts the quorum's CASPaxos messages to and from PeerFrame bodies, and the acceptor's
/// persisted record to and from bytes. Decoding checks every field the protocol relies on.
public enum QuorumCodec {
    /// The PeerFrame body carrying `message`.
    public static func body(_ message: QuorumMessage) -> Fogline_V1_PeerFrame.OneOf_Body {
        switch message {
        case .prepare(let key, let ballot):
            var body = Fogline_V1_PaxosPrepare()
            body.key = key
            body.ballot = .init(ballot)
            return .paxosPrepare(body)
        case .promise(let key, let ballot, let accepted, let remaining):
            var body = Fogline_V1_PaxosPromise()
            body.key = key
            body.ballot = .init(ballot)
            if let accepted {
                body.acceptedBallot = .init(accepted.ballot)
                body.accepted = .init(accepted.value)
            }
            body.leaseRemainingMs = remaining
            return .paxosPromise(body)
        case .accept(let key, let ballot, let value, let hold, let next):
            var body = Fogline_V1_PaxosAccept()
            body.key = key
            body.ballot = .init(ballot)
            body.value = .init(value)
            body.leaseHoldMs = hold
            if let next { body.nextBallot = .init(next) }
            return .paxosAccept(body)
        case .accepted(let key, let ballot, let promisedNext):
            var body = Fogline_V1_PaxosAccepted()
            body.key = key
            body.ballot = .init(ballot)
            body.promisedNext = promisedNext
            return .paxosAccepted(body)
        case .reject(let key, let ballot, let highest):
            var body = Fogline_V1_PaxosReject()
            body.key = key
            body.ballot = .init(ballot)
            body.highestSeen = .init(highest)
            return .paxosReject(body)
        case .confirm(let key, let ballot, let nonce):
            var body = Fogline_V1_PaxosConfirm()
            body.key = key
            body.ballot = .init(ballot)
            body.nonce = nonce
            return .paxosConfirm(body)
        case .confirmed(let key, let ballot, let nonce):
            var body = Fogline_V1_PaxosConfirmed()
            body.key = key
            body.ballot = .init(ballot)
            body.nonce = nonce
            return .paxosConfirmed(body)
        }
    }

    /// The quorum message in a PeerFrame body, or nil when the body is not a quorum message.
    public static func message(_ body: Fogline_V1_PeerFrame.OneOf_Body) throws(WireError) -> QuorumMessage? {
        switch body {
        case .paxosPrepare(let body):
            return .prepare(key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosPrepare.ballot"))
        case .paxosPromise(let body):
            var accepted: AcceptedValue?
            if body.hasAcceptedBallot || body.hasAccepted {
                guard body.hasAcceptedBallot, body.hasAccepted else { throw .missingField("PaxosPromise.accepted with accepted_ballot") }
                accepted = AcceptedValue(ballot: Ballot(body.acceptedBallot), value: try body.accepted.toRegisterValue())
            }
            return .promise(
                key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosPromise.ballot"), accepted: accepted,
                leaseRemainingMilliseconds: body.leaseRemainingMs)
        case .paxosAccept(let body):
            guard body.hasValue else { throw .missingField("PaxosAccept.value") }
            return .accept(
                key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosAccept.ballot"),
                value: try body.value.toRegisterValue(), leaseHoldMilliseconds: body.leaseHoldMs,
                nextBallot: body.hasNextBallot ? Ballot(body.nextBallot) : nil)
        case .paxosAccepted(let body):
            return .accepted(
                key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosAccepted.ballot"), promisedNext: body.promisedNext)
        case .paxosReject(let body):
            return .reject(
                key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosReject.ballot"),
                highestSeen: try ballot(body.hasHighestSeen, body.highestSeen, "PaxosReject.highest_seen"))
        case .paxosConfirm(let body):
            return .confirm(
                key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosConfirm.ballot"), nonce: body.nonce)
        case .paxosConfirmed(let body):
            return .confirmed(
                key: try key(body.key), ballot: try ballot(body.hasBallot, body.ballot, "PaxosConfirmed.ballot"), nonce: body.nonce)
        case .heartbeat, .gossipDelta, .gossipAck, .contextExchange:
            return nil
        }
    }

    /// The bytes an acceptor persists for one key.
    public static func encode(_ record: Acceptor.Record) -> [UInt8] {
        var message = Fogline_V1_AcceptorRecord()
        message.schemaVersion = WireSchema.currentVersion
        message.promised = .init(record.promised)
        if let accepted = record.accepted {
            message.acceptedBallot = .init(accepted.ballot)
            message.accepted = .init(accepted.value)
        }
        return ProtobufIO.serialize(message)
    }

    public static func decodeAcceptorRecord(_ bytes: some Collection<UInt8>) throws(WireError) -> Acceptor.Record {
        let message: Fogline_V1_AcceptorRecord = try ProtobufIO.parse(bytes, limits: DecodeLimits())
        try FrameChecks.version(message.schemaVersion)
        var accepted: AcceptedValue?
        if message.hasAcceptedBallot {
            guard message.hasAccepted else { throw .missingField("AcceptorRecord.accepted") }
            accepted = AcceptedValue(ballot: Ballot(message.acceptedBallot), value: try message.accepted.toRegisterValue())
        }
        return Acceptor.Record(promised: try ballot(message.hasPromised, message.promised, "AcceptorRecord.promised"), accepted: accepted)
    }

    private static func key(_ key: String) throws(WireError) -> String {
        try FrameChecks.key(key)
        return key
    }

    private static func ballot(_ present: Bool, _ message: Fogline_V1_Ballot, _ field: String) throws(WireError) -> Ballot {
        guard present else { throw .missingField(field) }
        return Ballot(message)
    }
}

extension Fogline_V1_Ballot {
    public init(_ ballot: Ballot) {
        self.init()
        counter = ballot.counter
        node = ballot.node.rawValue
    }
}

extension Ballot {
    public init(_ message: Fogline_V1_Ballot) {
        self.init(counter: message.counter, node: NodeID(rawValue: message.node))
    }
}

extension Fogline_V1_RegisterValue {
    public init(_ value: RegisterValue) {
        self.init()
        version = value.version
        switch value.content {
        case .absent: content = nil
        case .data(let bytes): content = .data(Data(bytes))
        case .lease(let record):
            var lease = Fogline_V1_LeaseRecord()
            if let holder = record.holder { lease.holder = holder }
            lease.token = record.token
            lease.ttlMs = record.ttlMilliseconds
            lease.renewal = record.renewal
            content = .lease(lease)
        }
        writers = value.writers.map { writer in
            var reference = Fogline_V1_OperationRef()
            reference.node = writer.node.rawValue
            reference.incarnation = writer.incarnation
            reference.sequence = writer.sequence
            return reference
        }
    }

    public func toRegisterValue() throws(WireError) -> RegisterValue {
        let decoded: RegisterValue.Content
        switch content {
        case nil: decoded = .absent
        case .data(let bytes): decoded = .data(Array(bytes))
        case .lease(let lease):
            if lease.hasHolder { try FrameChecks.key(lease.holder) }
            decoded = .lease(LeaseRecord(
                holder: lease.hasHolder ? lease.holder : nil, token: lease.token, ttlMilliseconds: lease.ttlMs, renewal: lease.renewal))
        }
        guard writers.count <= RegisterValue.writerHistory, UInt64(writers.count) <= version else {
            throw .invalidValue(what: "a register value at version \(version) with \(writers.count) writers")
        }
        return RegisterValue(
            version: version, content: decoded,
            writers: writers.map { OperationID(node: NodeID(rawValue: $0.node), incarnation: $0.incarnation, sequence: $0.sequence) })
    }
}
