public import FoglineConfig
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension SiteProvisioning {
    /// The files ``write(to:)`` puts in the output directory.
    public enum FileName {
        /// Mosquitto `password_file` (hashes only; mode 0644 so that the broker's user reads it).
        public static let passwords = "mosquitto.passwd"
        /// Mosquitto `acl_file` (mode 0644).
        public static let acl = "mosquitto.acl"
        /// The devices' secrets (mode 0600).
        public static let deviceCredentials = "devices.credentials"
        /// A node's password, for its `broker.password_file` (mode 0600).
        public static func nodePassword(_ node: String) -> String { "\(node).password" }
    }

    /// Passwords issued by an earlier run into `directory`: the devices' credentials file and
    /// each node's password file, when present.
    public static func existingPasswords(in directory: String, nodes: [String]) throws(ConfigErrors) -> [String: String] {
        var passwords: [String: String] = [:]
        let credentials = "\(directory)/\(FileName.deviceCredentials)"
        if FileManager.default.fileExists(atPath: credentials) {
            passwords = try DeviceCredentials.read(path: credentials).passwords
        }
        for node in nodes {
            let path = "\(directory)/\(FileName.nodePassword(node))"
            guard FileManager.default.fileExists(atPath: path) else { continue }
            // A password file that exists but cannot be read must stop the run: issuing a new
            // password would lock the node out of its broker.
            do { passwords[node] = try SecretSource.file(path).text() } catch {
                throw ConfigErrors(problems: [ConfigProblem(file: path, line: 0, message: error.description)])
            }
        }
        return passwords
    }

    /// Writes every file into `directory` (created if missing), each atomically (a temporary
    /// file created with its final mode, then renamed), so a secret is never readable by others,
    /// not even for a moment. Returns the paths written.
    @discardableResult
    public func write(to directory: String, random: inout some RandomNumberGenerator) throws(ProvisioningError) -> [String] {
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .io(path: directory, reason: error.localizedDescription)
        }
        var files: [(name: String, text: String, mode: mode_t)] = [
            (FileName.passwords, passwordFile(random: &random), 0o644),
            (FileName.acl, aclFile, 0o644),
            (FileName.deviceCredentials, deviceCredentials.rendered, 0o600),
        ]
        for node in nodes { files.append((FileName.nodePassword(node), passwords[node]! + "\n", 0o600)) }
        var written: [String] = []
        for file in files {
            let path = "\(directory)/\(file.name)"
            try Self.writeAtomically(Array(file.text.utf8), to: path, mode: file.mode)
            written.append(path)
        }
        return written
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t) throws(ProvisioningError) {
        do { try SecretFileWriter.write(bytes, to: path, mode: mode) } catch { throw .io(path: path, reason: error.reason) }
    }
}
