public import Crypto

/// The peer transport's wire format: framing, handshake messages and tags (see `PeerTransport` for
/// the protocol). Public so that fuzzers and hostile-peer tests can build and parse real frames.
public enum PeerWire {
    public static let nonceBytes = 32
    public static let tagBytes = 32
    public static let counterBytes = 8
    /// Type byte of each payload.
    public static let challengeType: UInt8 = 0x01
    public static let helloType: UInt8 = 0x02
    public static let welcomeType: UInt8 = 0x03
    public static let dataType: UInt8 = 0x04
    /// Bytes a data payload adds around its body: type, counter, tag.
    public static let dataOverhead = 1 + counterBytes + tagBytes
    /// The largest handshake payload (a hello with three 255-byte names); also the frame limit
    /// before a connection is authenticated.
    public static let maxHandshakePayload = 1 + nonceBytes + 3 * 256 + tagBytes
    public static let challengeLength = 1 + nonceBytes
    public static let welcomeLength = 1 + tagBytes

    static let helloLabel = Array("fogline-peer-v1 hello".utf8)
    static let welcomeLabel = Array("fogline-peer-v1 welcome".utf8)
    static let sessionLabel = Array("fogline-peer-v1 session".utf8)

    /// `payload` with its 4-byte big-endian length in front.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        let n = UInt32(payload.count)
        return [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
            + payload
    }

    public static func randomNonce() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(nonceBytes)
        for _ in 0..<(nonceBytes / 8) {
            var word = generator.next()
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        return bytes
    }

    public static func challenge(serverNonce: [UInt8]) -> [UInt8] {
        [challengeType] + serverNonce
    }

    /// The server nonce of a challenge payload, or nil when it is not one.
    public static func parseChallenge(_ payload: [UInt8]) -> [UInt8]? {
        guard payload.count == challengeLength, payload[0] == challengeType else { return nil }
        return Array(payload[1...])
    }

    /// The identity fields of a hello: who speaks, to whom, for which site, with which nonce.
    public struct Hello: Sendable, Equatable {
        public var site: String
        public var from: String
        public var to: String
        public var clientNonce: [UInt8]

        public init(site: String, from: String, to: String, clientNonce: [UInt8]) {
            self.site = site
            self.from = from
            self.to = to
            self.clientNonce = clientNonce
        }

        /// type ‖ clientNonce ‖ len site ‖ site ‖ len from ‖ from ‖ len to ‖ to (lengths one byte).
        var signedFields: [UInt8] {
            var out: [UInt8] = [PeerWire.helloType] + clientNonce
            for name in [site, from, to] {
                let bytes = Array(name.utf8)
                out.append(UInt8(min(bytes.count, 255)))
                out += bytes.prefix(255)
            }
            return out
        }

        /// The hello payload: `signedFields` ‖ HMAC(siteKey, helloLabel ‖ serverNonce ‖ signedFields).
        public func encode(serverNonce: [UInt8], siteKey: SymmetricKey) -> [UInt8] {
            let fields = signedFields
            return fields + PeerWire.mac(siteKey, PeerWire.helloLabel + serverNonce + fields)
        }

        /// Parses a hello payload (nil when malformed); `tag` is its last 32 bytes.
        public static func parse(_ payload: [UInt8]) -> (hello: Hello, tag: [UInt8])? {
            let minimum = 1 + PeerWire.nonceBytes + 3 + PeerWire.tagBytes
            guard payload.count >= minimum, payload.count <= PeerWire.maxHandshakePayload, payload[0] == PeerWire.helloType
            else { return nil }
            let nonce = Array(payload[1...PeerWire.nonceBytes])
            var index = 1 + PeerWire.nonceBytes
            let fieldsEnd = payload.count - PeerWire.tagBytes
            var names: [String] = []
            for _ in 0..<3 {
                guard index < fieldsEnd else { return nil }
                let length = Int(payload[index])
                index += 1
                guard length > 0, index + length <= fieldsEnd,
                    let name = String(validating: payload[index..<(index + length)], as: UTF8.self)
                else { return nil }
                names.append(name)
                index += length
            }
            guard index == fieldsEnd else { return nil }
            return (Hello(site: names[0], from: names[1], to: names[2], clientNonce: nonce), Array(payload[fieldsEnd...]))
        }

        /// Whether `tag` authenticates this hello for `serverNonce` (constant-time comparison).
        public func isValid(tag: [UInt8], serverNonce: [UInt8], siteKey: SymmetricKey) -> Bool {
            HMAC<SHA256>.isValidAuthenticationCode(
                tag, authenticating: PeerWire.helloLabel + serverNonce + signedFields, using: siteKey)
        }

        /// The welcome payload the server answers with: type ‖ HMAC(siteKey, welcomeLabel ‖ serverNonce ‖ signedFields).
        public func welcome(serverNonce: [UInt8], siteKey: SymmetricKey) -> [UInt8] {
            [PeerWire.welcomeType] + PeerWire.mac(siteKey, PeerWire.welcomeLabel + serverNonce + signedFields)
        }

        public func isValidWelcome(_ payload: [UInt8], serverNonce: [UInt8], siteKey: SymmetricKey) -> Bool {
            guard payload.count == PeerWire.welcomeLength, payload[0] == PeerWire.welcomeType else { return false }
            return HMAC<SHA256>.isValidAuthenticationCode(
                payload[1...], authenticating: PeerWire.welcomeLabel + serverNonce + signedFields, using: siteKey)
        }

        /// The key that tags this connection's data frames:
        /// HMAC(siteKey, sessionLabel ‖ serverNonce ‖ signedFields). It binds both nonces and the
        /// identities, so a frame recorded on one connection is worthless on any other.
        public func sessionKey(serverNonce: [UInt8], siteKey: SymmetricKey) -> SymmetricKey {
            SymmetricKey(data: PeerWire.mac(siteKey, PeerWire.sessionLabel + serverNonce + signedFields))
        }
    }

    /// A data payload: type ‖ counter (8 bytes BE) ‖ body ‖ HMAC(sessionKey, type ‖ counter ‖ body).
    public static func data(counter: UInt64, body: [UInt8], sessionKey: SymmetricKey) -> [UInt8] {
        var signed: [UInt8] = []
        signed.reserveCapacity(1 + counterBytes + body.count + tagBytes)
        signed.append(dataType)
        for shift in stride(from: 56, through: 0, by: -8) { signed.append(UInt8(truncatingIfNeeded: counter >> UInt64(shift))) }
        signed += body
        let tag = mac(sessionKey, signed)
        return signed + tag
    }

    public enum DataError: Error, Equatable { case malformed, badTag, badCounter }

    /// Verifies a data payload (tag in constant time, then `counter == expectedCounter`) and
    /// returns its body.
    public static func openData(_ payload: UnsafeRawBufferPointer, expectedCounter: UInt64, sessionKey: SymmetricKey)
        throws(DataError) -> [UInt8]
    {
        guard payload.count >= dataOverhead, payload[0] == dataType else { throw .malformed }
        let signedCount = payload.count - tagBytes
        let signed = UnsafeRawBufferPointer(rebasing: payload[0..<signedCount])
        let tag = UnsafeRawBufferPointer(rebasing: payload[signedCount...])
        guard HMAC<SHA256>.isValidAuthenticationCode(tag, authenticating: signed, using: sessionKey) else { throw .badTag }
        var counter: UInt64 = 0
        for index in 1...counterBytes { counter = counter << 8 | UInt64(payload[index]) }
        guard counter == expectedCounter else { throw .badCounter }
        return Array(UnsafeRawBufferPointer(rebasing: payload[(1 + counterBytes)..<signedCount]))
    }

    static func mac(_ key: SymmetricKey, _ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
    }
}
