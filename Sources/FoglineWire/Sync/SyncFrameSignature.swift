public import Crypto
import Foundation

/// Ed25519 signatures on sync frames: each edge node signs what it sends to the aggregator with
/// its own key, and the aggregator verifies with the node's public key from its configuration
/// (README, "Edge ↔ cloud"). The signature covers the frame's deterministic protobuf encoding
/// with `signature` unset, so it binds the site, the node, the batch id and the body together.
public enum SyncFrameSignature {
    /// Signs `frame` in place (replacing any signature it carried).
    public static func sign(_ frame: inout Fogline_V1_SyncFrame, with key: Curve25519.Signing.PrivateKey) throws {
        frame.clearSignature()
        let signature = try key.signature(for: SyncFrameCodec.encode(frame))
        var field = Fogline_V1_Signature()
        field.ed25519 = Data(signature)
        frame.signature = field
    }

    /// `true` when `frame` carries a valid signature of `key` over its content.
    public static func isValid(_ frame: Fogline_V1_SyncFrame, for key: Curve25519.Signing.PublicKey) -> Bool {
        guard frame.hasSignature, frame.signature.ed25519.count == 64 else { return false }
        var unsigned = frame
        unsigned.clearSignature()
        return key.isValidSignature(frame.signature.ed25519, for: SyncFrameCodec.encode(unsigned))
    }
}

/// Ed25519 keys as Fogline keeps them in files and configuration: base64 of the 32-byte raw
/// representation, surrounding whitespace ignored.
public enum SigningKeyText {
    public static func privateKey(_ text: String) throws(WireError) -> Curve25519.Signing.PrivateKey {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)
        else { throw .invalidValue(what: "an Ed25519 private key must be the base64 of 32 bytes") }
        return key
    }

    public static func publicKey(_ text: String) throws(WireError) -> Curve25519.Signing.PublicKey {
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), bytes.count == 32,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)
        else { throw .invalidValue(what: "an Ed25519 public key must be the base64 of 32 bytes") }
        return key
    }

    public static func text(of key: Curve25519.Signing.PrivateKey) -> String { key.rawRepresentation.base64EncodedString() }
    public static func text(of key: Curve25519.Signing.PublicKey) -> String { key.rawRepresentation.base64EncodedString() }
}
