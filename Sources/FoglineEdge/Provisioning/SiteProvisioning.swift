public import FoglineConfig
import FoglineWire
import Foundation

/// The broker accounts of one site: a username and password per edge node and per device, the
/// Mosquitto password file (hashes only) and ACL for them, and the secrets to hand out. Pure:
/// randomness comes from the caller's generator, files are written by ``write(to:)``.
///
/// Passwords already issued (``existing``) are kept, so adding a device to the list does not
/// change anyone else's credentials; an account no longer listed is left out of the new files,
/// which revokes it once the broker reloads them.
public struct SiteProvisioning: Sendable {
    public let site: String
    public let nodes: [String]
    public let devices: [String]
    /// Password by username, for every node and device.
    public let passwords: [String: String]
    /// How many of ``passwords`` were generated now (the rest were kept).
    public let generated: Int

    /// Random bytes per password (base64url: 32 characters).
    public static let passwordBytes = 24

    public init(
        site: String, nodes: [String], devices: [String], existing: [String: String] = [:],
        random: inout some RandomNumberGenerator
    ) throws(ProvisioningError) {
        guard SegmentName.isValid(site) else { throw .invalidName(kind: "site", site) }
        if let problem = SegmentName.siteProblem(with: site) { throw .reservedSite(site, problem: problem) }
        for node in nodes where !SegmentName.isValid(node) { throw .invalidName(kind: "node", node) }
        for device in devices where !SegmentName.isValid(device) { throw .invalidName(kind: "device", device) }
        guard !nodes.isEmpty else { throw .noNodes }
        let shared = Set(nodes).intersection(devices)
        guard shared.isEmpty else { throw .nameClash(shared.sorted()) }
        self.site = site
        self.nodes = Array(Set(nodes)).sorted()
        self.devices = Array(Set(devices)).sorted()
        var passwords: [String: String] = [:]
        var generated = 0
        for user in self.nodes + self.devices {
            if let kept = existing[user], !kept.isEmpty {
                passwords[user] = kept
            } else {
                passwords[user] = Self.newPassword(&random)
                generated += 1
            }
        }
        self.passwords = passwords
        self.generated = generated
    }

    /// The Mosquitto `password_file`: `user:$7$…` per account, a fresh salt each.
    public func passwordFile(random: inout some RandomNumberGenerator) -> String {
        (nodes + devices).map { user in
            let salt = (0..<MosquittoPasswordHash.saltBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
            return "\(user):\(MosquittoPasswordHash.hash(password: passwords[user]!, salt: salt))\n"
        }.joined()
    }

    /// The Mosquitto `acl_file` (see ``BrokerAccessControl``).
    public var aclFile: String { BrokerAccessControl.aclFile(site: site, nodes: nodes, devices: devices) }

    /// The devices' secrets, for `fogline-sim --credentials` or to hand to each device.
    public var deviceCredentials: DeviceCredentials {
        DeviceCredentials(passwords: passwords.filter { devices.contains($0.key) })
    }

    static func newPassword(_ random: inout some RandomNumberGenerator) -> String {
        let bytes = (0..<passwordBytes).map { _ in UInt8.random(in: 0...255, using: &random) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Device ids from a devices file: one per line, `#` comments and blank lines ignored. Every
    /// invalid or repeated id is reported as `FILE:LINE: message`.
    public static func deviceList(_ text: String, file: String) throws(ConfigErrors) -> [String] {
        var devices: [String] = []
        var seen: Set<String> = []
        var problems: [ConfigProblem] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if let problem = SegmentName.problem(with: line) {
                problems.append(ConfigProblem(file: file, line: offset + 1, message: "the device id \"\(line)\" \(problem)"))
            } else if !seen.insert(line).inserted {
                problems.append(ConfigProblem(file: file, line: offset + 1, message: "device \(line) is listed twice; keep one line per device"))
            } else {
                devices.append(line)
            }
        }
        guard problems.isEmpty else { throw ConfigErrors(problems: problems) }
        return devices
    }
}

/// Why a site cannot be provisioned, each saying what to change.
public enum ProvisioningError: Error, CustomStringConvertible, Equatable {
    case invalidName(kind: String, String)
    case reservedSite(String, problem: String)
    case noNodes
    case nameClash([String])
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidName(let kind, let name):
            "The \(kind) name \"\(name)\" is not valid: use 1 to 64 of A-Z a-z 0-9 _ . - (it is part of MQTT topics and broker usernames)."
        case .reservedSite(let name, let problem):
            "The site name \"\(name)\" \(problem)."
        case .noNodes:
            "No edge node to provision: give --node NAME (repeatable) or --config with the site's node and quorum.peers."
        case .nameClash(let names):
            "\(names.joined(separator: ", ")) is both an edge node and a device; broker usernames must be unique, so rename one of them."
        case .io(let path, let reason):
            "Cannot write \(path) (\(reason)). Check --out and that this user may write there."
        }
    }
}
