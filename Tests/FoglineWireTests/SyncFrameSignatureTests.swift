import Crypto
import FoglineCore
import FoglineWire
import Testing

@Suite("Sync frame signatures")
struct SyncFrameSignatureTests {
    static func frame() -> Fogline_V1_SyncFrame {
        var hello = Fogline_V1_SyncHello(summary: FrameCodecTests.summary())
        hello.wantsReply = true
        return Fogline_V1_SyncFrame(site: "plant_1", node: "edge-a", body: .hello(hello))
    }

    @Test("a signed frame verifies after a round trip; another key, a changed field or no signature does not")
    func signAndVerify() throws {
        let key = Curve25519.Signing.PrivateKey()
        var frame = Self.frame()
        try SyncFrameSignature.sign(&frame, with: key)
        let received = try SyncFrameCodec.decode(SyncFrameCodec.encode(frame))
        #expect(SyncFrameSignature.isValid(received, for: key.publicKey))
        #expect(!SyncFrameSignature.isValid(received, for: Curve25519.Signing.PrivateKey().publicKey))
        var tampered = received
        tampered.node = "edge-b"
        #expect(!SyncFrameSignature.isValid(tampered, for: key.publicKey))
        var unsigned = received
        unsigned.clearSignature()
        #expect(!SyncFrameSignature.isValid(unsigned, for: key.publicKey))
    }

    @Test("keys round-trip through their text form; malformed text is refused")
    func keyText() throws {
        let key = Curve25519.Signing.PrivateKey()
        let restored = try SigningKeyText.privateKey(SigningKeyText.text(of: key) + "\n")
        #expect(restored.rawRepresentation == key.rawRepresentation)
        let publicKey = try SigningKeyText.publicKey(SigningKeyText.text(of: key.publicKey))
        #expect(publicKey.rawRepresentation == key.publicKey.rawRepresentation)
        #expect(throws: WireError.self) { try SigningKeyText.privateKey("not base64") }
        #expect(throws: WireError.self) { try SigningKeyText.publicKey("AAAA") }
    }
}
