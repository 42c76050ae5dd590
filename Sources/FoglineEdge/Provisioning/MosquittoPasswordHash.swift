import CryptoExtras
import Foundation

/// Mosquitto 2.0's password file hashes, as `mosquitto_passwd` writes them:
/// `$7$ITERATIONS$base64(salt)$base64(PBKDF2-HMAC-SHA512(password, salt, ITERATIONS, 64 bytes))`
/// with a 12-byte salt. A line of the file is `username:hash`.
///
/// The iteration count is mosquitto_passwd's default (101), not a password-storage
/// recommendation: the passwords ``SiteProvisioning`` generates are 192 random bits, which no
/// iteration count makes easier or harder to guess, while every device connect costs the broker
/// one derivation (a site's whole fleet reconnects at once after a broker restart).
public enum MosquittoPasswordHash {
    public static let defaultIterations = 101
    public static let saltBytes = 12

    /// The `$7$…` hash of `password` with `salt`.
    public static func hash(password: String, salt: [UInt8], iterations: Int = defaultIterations) -> String {
        "$7$\(iterations)$\(Data(salt).base64EncodedString())$\(Data(derive(password: password, salt: salt, iterations: iterations)).base64EncodedString())"
    }

    /// Whether `hash` (a `$7$…` string) is the hash of `password`; false for any other format.
    public static func verify(password: String, hash: String) -> Bool {
        let parts = hash.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "7", let iterations = Int(parts[2]), iterations > 0,
            let salt = Data(base64Encoded: String(parts[3])), let expected = Data(base64Encoded: String(parts[4]))
        else { return false }
        return derive(password: password, salt: Array(salt), iterations: iterations) == Array(expected)
    }

    static func derive(password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        // Only fails for a zero output length or iteration count, which never reach here.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha512, outputByteCount: 64, unsafeUncheckedRounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}
