import FoglineConfig
@testable import FoglineEdge
import FoglineTesting
import Foundation
import Testing

/// The pure parts of `fogline-edge provision`: hashes, ACL rules, accounts and files' text. The
/// real broker checks them in BrokerAccessProcessTests.
@Suite("Site provisioning")
struct ProvisioningTests {
    @Test("the $7$ hash matches what mosquitto_passwd wrote, verifies only the right password, and round-trips")
    func passwordHash() {
        // Written by `mosquitto_passwd -b -c FILE alice secret` (Mosquitto 2.0.11).
        let reference = "$7$101$tYfm6ERgUpBvI6SH$DOYdl8M8TWuSpXVMLsiWfZQAKWNMW8oQrfZ6/GZ3k+AQ9wjVA8JfkggVM7RLow8buarX+97V93Wyg37ipeFMmQ=="
        #expect(MosquittoPasswordHash.verify(password: "secret", hash: reference))
        #expect(!MosquittoPasswordHash.verify(password: "Secret", hash: reference))
        let salt: [UInt8] = [0xb5, 0x87, 0xe6, 0xe8, 0x44, 0x60, 0x52, 0x90, 0x6f, 0x23, 0xa4, 0x87]
        #expect(MosquittoPasswordHash.hash(password: "secret", salt: salt) == reference, "the same salt gives mosquitto_passwd's bytes")
        let ours = MosquittoPasswordHash.hash(password: "pässwörd", salt: Array(repeating: 1, count: 12), iterations: 7)
        #expect(ours.hasPrefix("$7$7$") && MosquittoPasswordHash.verify(password: "pässwörd", hash: ours))
        #expect(!MosquittoPasswordHash.verify(password: "secret", hash: "$6$abc$def"))
    }

    @Test("a device may write only its own uplink and read only its own downlink; a node reads every uplink and writes every downlink")
    func accessRules() {
        let device = BrokerAccessControl.deviceRules(site: "plant-1", device: "th-1")
        let writes = device.filter { $0.access == .write }.map(\.topic)
        let reads = device.filter { $0.access == .read }.map(\.topic)
        #expect(Set(writes) == Set(["birth", "death", "telemetry", "reported", "cmd/ack"].map { "fogline/v1/plant-1/dev/th-1/\($0)" }))
        #expect(Set(reads) == Set(["desired", "cmd", "replay"].map { "fogline/v1/plant-1/dev/th-1/\($0)" } + ["fogline/v1/plant-1/node/+/status"]))
        #expect(device.allSatisfy { !$0.topic.contains("#") && !$0.topic.contains("/dev/+") })

        let node = BrokerAccessControl.nodeRules(site: "plant-1", node: "edge-a")
        #expect(node.contains(.init(access: .read, topic: "fogline/v1/plant-1/dev/+/telemetry")))
        #expect(node.contains(.init(access: .write, topic: "fogline/v1/plant-1/dev/+/cmd")))
        #expect(node.contains(.init(access: .write, topic: "fogline/v1/plant-1/node/edge-a/status")))
        #expect(!node.contains { $0.access == .write && $0.topic.contains("telemetry") })
        #expect(!node.contains { $0.access == .write && $0.topic == "fogline/v1/plant-1/node/+/status" })
    }

    @Test("accounts: passwords kept or generated, names checked, a name may not be both node and device")
    func accounts() throws {
        var random = SeededRandom(seed: 7)
        let first = try SiteProvisioning(site: "plant-1", nodes: ["edge-b", "edge-a"], devices: ["th-1", "th-2"], random: &random)
        #expect(first.nodes == ["edge-a", "edge-b"] && first.devices == ["th-1", "th-2"] && first.generated == 4)
        #expect(first.passwords.values.allSatisfy { $0.count == 32 && !$0.contains(" ") })
        #expect(Set(first.passwords.values).count == 4)
        #expect(first.deviceCredentials.passwords.keys.sorted() == ["th-1", "th-2"])

        // th-2 is dropped and th-3 added: th-1 and the nodes keep their passwords.
        let second = try SiteProvisioning(
            site: "plant-1", nodes: ["edge-a", "edge-b"], devices: ["th-1", "th-3"], existing: first.passwords, random: &random)
        #expect(second.generated == 1 && second.passwords["th-1"] == first.passwords["th-1"] && second.passwords["edge-a"] == first.passwords["edge-a"])
        #expect(second.passwords["th-2"] == nil && second.passwords["th-3"] != nil)
        let passwordFile = second.passwordFile(random: &random)
        let lines = passwordFile.split(separator: "\n")
        #expect(lines.map { $0.split(separator: ":")[0] } == ["edge-a", "edge-b", "th-1", "th-3"])
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1).map(String.init)
            #expect(MosquittoPasswordHash.verify(password: second.passwords[parts[0]]!, hash: parts[1]))
        }
        #expect(second.aclFile.contains("user th-3\ntopic write fogline/v1/plant-1/dev/th-3/birth\n"))
        #expect(!second.aclFile.contains("th-2"))

        #expect(throws: ProvisioningError.nameClash(["edge-a"])) {
            try SiteProvisioning(site: "plant-1", nodes: ["edge-a"], devices: ["edge-a"], random: &random)
        }
        #expect(throws: ProvisioningError.invalidName(kind: "device", "th 1")) {
            try SiteProvisioning(site: "plant-1", nodes: ["edge-a"], devices: ["th 1"], random: &random)
        }
        #expect(throws: ProvisioningError.invalidName(kind: "site", "plant 1")) {
            try SiteProvisioning(site: "plant 1", nodes: ["edge-a"], devices: ["th-1"], random: &random)
        }
        let reserved = #expect(throws: ProvisioningError.self) {
            try SiteProvisioning(site: "sync", nodes: ["edge-a"], devices: ["th-1"], random: &random)
        }
        #expect(reserved?.description == "The site name \"sync\" is reserved (`fogline/v1/sync/…` are Fogline's own topics); choose another.")
        #expect(throws: ProvisioningError.noNodes) { try SiteProvisioning(site: "plant-1", nodes: [], devices: ["th-1"], random: &random) }
    }

    @Test("devices and credentials files: comments and blank lines skipped, every bad line reported with its number")
    func files() throws {
        let devices = try SiteProvisioning.deviceList("# devices of hall 2\nth-1\n\n  valve-7   # the big one\n", file: "d.txt")
        #expect(devices == ["th-1", "valve-7"])
        do {
            _ = try SiteProvisioning.deviceList("th-1\nth/2\nth-1\n", file: "d.txt")
            Issue.record("a bad devices file was accepted")
        } catch {
            #expect(error.problems.map(\.line) == [2, 3])
            #expect(error.description.contains("d.txt:2:") && error.description.contains("listed twice"))
        }

        let credentials = DeviceCredentials(passwords: ["th-2": "b", "th-1": "a"])
        #expect(try DeviceCredentials.parse(credentials.rendered, file: "c") == credentials)
        #expect(credentials.rendered.hasSuffix("th-1 a\nth-2 b\n"))
        do {
            _ = try DeviceCredentials.parse("th-1 a\nth-2\nth-1 c\n", file: "c")
            Issue.record("a bad credentials file was accepted")
        } catch {
            #expect(error.problems.map(\.line) == [2, 3])
        }
        let missing = "/nonexistent-\(UUID().uuidString)/devices.credentials"
        #expect {
            try DeviceCredentials.read(path: missing)
        } throws: { error in
            "\(error)".contains("cannot read the credentials file \(missing)") && "\(error)".contains("check the path and its permissions")
        }
    }

    @Test("a secret file that cannot be written names the system's reason and what to check; a written one is 0600")
    func secretFileErrors() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-dir-\(UUID().uuidString)/uplink.key").path
        let error = #expect(throws: (any Error).self) { try SigningKeyFile.create(at: missing) }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("No such file or directory") && text.contains("check that its directory exists"), "\(text)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("keygen-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("uplink.key").path
        _ = try SigningKeyFile.create(at: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
