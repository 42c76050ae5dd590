import Crypto
import FoglineConfig
import Foundation
import FoglineWire

/// This node's Ed25519 key for the cloud uplink, in a file only its owner may read: base64 of the
/// 32-byte private key on one line (``FoglineWire/SigningKeyText``).
public enum SigningKeyFile {
    /// Creates a new key at `path` (mode 0600) and returns its public key's text, which goes
    /// into the aggregator's configuration.
    public static func create(at path: String) throws -> String {
        let key = Curve25519.Signing.PrivateKey()
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((SigningKeyText.text(of: key) + "\n").utf8), attributes: [.posixPermissions: 0o600])
        guard created else { throw EdgeNodeError.signingKey(source: .file(path), reason: "the file could not be created") }
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
