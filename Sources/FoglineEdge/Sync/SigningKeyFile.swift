import Crypto
import FoglineConfig
import Foundation
import FoglineWire

/// This node's Ed25519 key for the cloud uplink, in a file only its owner may read: base64 of the
/// 32-byte private key on one line (``FoglineWire/SigningKeyText``).
public enum SigningKeyFile {
    /// Creates a new key at `path` (mode 0600) and returns its public key's text, which goes
    /// into the aggregator's configuration.
    ///
    /// - Throws: a failure that gives the operating system's reason and what to check.
    public static func create(at path: String) throws -> String {
        let key = Curve25519.Signing.PrivateKey()
        try SecretFileWriter.write(Array((SigningKeyText.text(of: key) + "\n").utf8), to: path, mode: 0o600)
        return SigningKeyText.text(of: key.publicKey)
    }

    /// The key from `FOGLINE_SIGNING_KEY` or `cloud.signing_key_file` (the same text either way).
    static func load(_ source: SecretSource) throws -> Curve25519.Signing.PrivateKey {
        let text: String
        do { text = try source.text() } catch { throw EdgeNodeError.signingKey(source: source, reason: error.problem) }
        do { return try SigningKeyText.privateKey(text) } catch {
            throw EdgeNodeError.signingKey(source: source, reason: error.description)
        }
    }
}
