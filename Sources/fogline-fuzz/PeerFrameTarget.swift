import Crypto
import FoglineCore
import FoglineEdge
import FoglineWire
import NIOCore
import NIOEmbedded

/// What a node does with the bytes of an inbound peer connection, without sockets: the length
/// framing (through the transport's own decoder), the hello, and data frames through the tag and
/// counter check to the protobuf frame and the quorum and gossip bodies in it.
///
/// The first input byte picks the mode. Even: the rest is the raw byte stream of an unknown
/// client (fed in pieces of 1–16 bytes, then the end of stream). Odd: the rest is a list of
/// bodies (2-byte big-endian length, then the body) that the harness seals as an authenticated
/// peer would — so the fuzzer reaches the protobuf decoders behind the HMAC — with a byte
/// flipped in some tags and a skipped counter in others.
enum PeerFrameTarget {
    static let siteKey = SymmetricKey(data: (0..<32).map { UInt8($0) })
    static let serverNonce = [UInt8](repeating: 7, count: PeerWire.nonceBytes)
    static let hello = PeerWire.Hello(site: "plant-1", from: "edge-b", to: "edge-a", clientNonce: [UInt8](repeating: 9, count: PeerWire.nonceBytes))
    static let frameLimit = 1 << 16

    static func run(_ input: UnsafeRawBufferPointer) {
        guard let mode = input.first else { return }
        let rest = Array(input.dropFirst())
        if mode % 2 == 0 {
            serve(stream: rest, pieceSize: Int(mode / 2) % 16 + 1, authenticated: false)
        } else {
            serve(stream: sealedStream(rest), pieceSize: 4_096, authenticated: true)
        }
    }

    /// The hello, then each body sealed with the session key (counter 1, 2, …).
    static func sealedStream(_ input: [UInt8]) -> [UInt8] {
        let sessionKey = hello.sessionKey(serverNonce: serverNonce, siteKey: siteKey)
        var stream = PeerWire.frame(hello.encode(serverNonce: serverNonce, siteKey: siteKey))
        var counter: UInt64 = 0
        var index = 0
        while index + 2 <= input.count {
            let length = Int(input[index]) << 8 | Int(input[index + 1])
            index += 2
            let body = Array(input[index..<min(input.count, index + length)])
            index += body.count
            counter += 1
            var payload = PeerWire.data(counter: counter, body: body, sessionKey: sessionKey)
            // The low bits of the length choose a hostile variant now and then.
            switch length % 23 {
            case 5: payload[payload.count - 1] ^= 0x80  // tampered tag
            case 11: payload = PeerWire.data(counter: counter + 1, body: body, sessionKey: sessionKey)  // skipped counter
            default: break
            }
            stream += PeerWire.frame(payload)
        }
        return stream
    }

    /// Feeds `stream` through the transport's frame decoder and handles each payload as the
    /// server side of a connection does; stops at the first rejection, as the transport closes
    /// the connection there.
    static func serve(stream: [UInt8], pieceSize: Int, authenticated: Bool) {
        let limit = PeerFrameLimit(PeerWire.maxHandshakePayload)
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(PeerFrameDecoder(limit: limit)))
        var session: SymmetricKey?
        var expectedCounter: UInt64 = 1
        var offset = 0
        streaming: while offset < stream.count {
            let piece = stream[offset..<min(stream.count, offset + pieceSize)]
            offset += piece.count
            do { try channel.writeInbound(ByteBuffer(bytes: piece)) } catch { break }
            while let payload = try? channel.readInbound(as: ByteBuffer.self) {
                let bytes = Array(payload.readableBytesView)
                if let sessionKey = session {
                    let body: [UInt8]
                    do {
                        body = try bytes.withUnsafeBytes { try PeerWire.openData($0, expectedCounter: expectedCounter, sessionKey: sessionKey) }
                    } catch { break streaming }
                    expectedCounter += 1
                    handle(body: body)
                } else {
                    guard let parsed = PeerWire.Hello.parse(bytes),
                        parsed.hello.isValid(tag: parsed.tag, serverNonce: serverNonce, siteKey: siteKey)
                    else { break streaming }
                    session = parsed.hello.sessionKey(serverNonce: serverNonce, siteKey: siteKey)
                    limit.raise(to: frameLimit + PeerWire.dataOverhead)
                }
            }
        }
        _ = try? channel.finish()
        if authenticated && session == nil { fatalError("the harness's own hello was refused") }
    }

    /// What the quorum service and site gossip do with an authenticated body.
    static func handle(body: [UInt8]) {
        guard let frame = try? PeerFrameCodec.decode(body) else { return }
        switch frame.body {
        case .gossipDelta(let gossip):
            if let delta = try? gossip.delta.toSiteDelta() {
                var state = SiteState()
                state.merge(delta)
            }
            _ = try? gossip.base.toCausalContext()
        case .gossipAck(let ack):
            _ = try? ack.toReplicaSummary()
        case .contextExchange(let exchange):
            _ = try? exchange.toReplicaSummary()
        case let body?:
            _ = try? QuorumCodec.message(body)
        case nil:
            break
        }
    }
}
