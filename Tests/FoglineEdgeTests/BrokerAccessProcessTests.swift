import FoglineConfig
import FoglineMQTT
import FoglineTesting
import FoglineWire
import Foundation
import Logging
import Testing

/// `fogline-edge provision` against the real Mosquitto: the broker takes its password file and
/// ACL over a TLS listener made with a throwaway CA; a device's credentials cannot publish as
/// another device nor read another device's downlink; the edge and the simulator connect with
/// TLS and their provisioned credentials.
@Suite(
    "broker access: provision, TLS and the ACL (real Mosquitto)",
    .enabled(if: CertificateAuthority.openssl != nil, "the openssl CLI is not installed (make deps installs it)"))
final class BrokerAccessProcessTests {
    let directory: URL
    let out: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-access-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        out = directory.appendingPathComponent("broker")
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Runs the real `fogline-edge provision` for node edge-a and `devices`.
    func provision(devices: [String]) async throws {
        let list = directory.appendingPathComponent("devices.txt")
        try ("# test site\n" + devices.joined(separator: "\n") + "\n").write(to: list, atomically: true, encoding: .utf8)
        let cli = ProgramProcess.buildDirectory.appendingPathComponent("fogline-edge").path
        let arguments = ["provision", "--site", "plant-1", "--node", "edge-a", "--devices", list.path, "--out", out.path]
        let (status, output) = try await offPool({ try ProgramProcess.run(cli, arguments) })
        try #require(status == 0, "provision failed: \(output)")
        let passwords = try devices.map(password(of:)) + [try password(of: "edge-a")]
        #expect(!passwords.contains { output.contains($0) }, "no password is printed")
    }

    func password(of user: String) throws -> String {
        if user.hasPrefix("edge-") {
            return try String(contentsOf: out.appendingPathComponent("\(user).password"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        return try #require(try DeviceCredentials.read(path: out.appendingPathComponent("devices.credentials").path).passwords[user])
    }

    /// A broker whose TLS listener (returned port) and plain listener both require the
    /// provisioned accounts and enforce their ACL.
    func secureBroker() async throws -> (broker: MosquittoProcess, tlsPort: Int, ca: String) {
        let authority = try await CertificateAuthority(in: directory, name: "ca")
        let server = try await authority.issueServerCertificate(name: "broker", ipAddress: "127.0.0.1")
        let tlsPort = try MosquittoProcess.freeLoopbackPort()
        let out = out
        let broker = try await OffPool.run {
            Result {
                try MosquittoProcess(extraConfiguration: """
                    allow_anonymous false
                    password_file \(out.appendingPathComponent("mosquitto.passwd").path)
                    acl_file \(out.appendingPathComponent("mosquitto.acl").path)
                    listener \(tlsPort) 127.0.0.1
                    cafile \(authority.certificate)
                    certfile \(server.certificate)
                    keyfile \(server.key)
                    """)
            }
        }.get()
        return (broker, tlsPort, authority.certificate)
    }

    func client(_ user: String, password: String, port: Int, ca: String) throws -> (MQTTClient, PeerStreamDrain<MQTTMessage>, PeerStreamDrain<MQTTConnectionEvent>) {
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", port: port, clientID: "\(user)-\(UUID().uuidString.prefix(6))")
        configuration.username = user
        configuration.password = password
        configuration.tls = MQTTTLSConfiguration(caFile: ca)
        configuration.reconnectBackoff = MQTTReconnectBackoff(minimumDelay: .milliseconds(50), maximumDelay: .milliseconds(500))
        var logger = Logger(label: "test.\(user)")
        logger.logLevel = .critical
        let client = try MQTTClient(configuration: configuration, logger: logger)
        let messages = PeerStreamDrain(client.messages)
        let events = PeerStreamDrain(client.events)
        client.start()
        return (client, messages, events)
    }

    @Test("a device's credentials cannot publish as another device or read its downlink; wrong passwords are refused")
    func deviceIsolation() async throws {
        try await provision(devices: ["th-1", "th-2"])
        let (broker, tlsPort, ca) = try await secureBroker()
        defer { broker.stop() }

        let (edge, edgeMessages, _) = try client("edge-a", password: try password(of: "edge-a"), port: tlsPort, ca: ca)
        let (device, deviceMessages, _) = try client("th-1", password: try password(of: "th-1"), port: tlsPort, ca: ca)
        try await edge.waitUntilConnected(timeout: .seconds(20))
        try await device.waitUntilConnected(timeout: .seconds(20))
        try await edge.subscribe(FoglineTopic.deviceFilter(site: "plant-1", channel: .telemetry))

        // Uplink: th-1 publishes as th-2 first, then as itself. The broker acknowledges both (MQTT
        // 3.1.1 has no way to say no) but forwards only the second; per-publisher order means the
        // first would have arrived before it.
        let own = FoglineTopic.device(site: "plant-1", device: "th-1", .telemetry).string
        let other = FoglineTopic.device(site: "plant-1", device: "th-2", .telemetry).string
        try await device.publish(MQTTMessage(topic: other, payload: Array(#"{"seq":0,"values":{"t":1}}"#.utf8), qos: .atLeastOnce))
        try await device.publish(MQTTMessage(topic: own, payload: Array(#"{"seq":0,"values":{"t":2}}"#.utf8), qos: .atLeastOnce))
        #expect(await pollUntil { edgeMessages.items.contains { $0.topic == own } }, "the device's own telemetry reaches the edge")
        #expect(!edgeMessages.items.contains { $0.topic == other }, "telemetry published as th-2 must be dropped")

        // Downlink: th-1 asks for th-2's desired state and commands (refused, or granted and never
        // served) and for its own; the edge then publishes th-2's, then th-1's.
        for filter in [FoglineTopic.deviceFilter(site: "plant-1", device: "th-2", channel: .desired), "fogline/v1/plant-1/#"] {
            do { try await device.subscribe(filter) } catch MQTTClientError.subscriptionRejected {}
        }
        try await device.subscribe(FoglineTopic.device(site: "plant-1", device: "th-1", .desired).string)
        let otherDesired = FoglineTopic.device(site: "plant-1", device: "th-2", .desired).string
        let ownDesired = FoglineTopic.device(site: "plant-1", device: "th-1", .desired).string
        try await edge.publish(MQTTMessage(topic: otherDesired, payload: Array(#"{"fields":{"sp":1}}"#.utf8), qos: .atLeastOnce, retain: true))
        try await edge.publish(MQTTMessage(topic: ownDesired, payload: Array(#"{"fields":{"sp":2}}"#.utf8), qos: .atLeastOnce, retain: true))
        #expect(await pollUntil { deviceMessages.items.contains { $0.topic == ownDesired } }, "the device gets its own desired state")
        #expect(deviceMessages.items.allSatisfy { $0.topic == ownDesired }, "\(deviceMessages.items.map(\.topic))")

        // th-2's password is not th-1's, a guessed one is refused, and so is no login at all.
        for (user, password) in [("th-1", try self.password(of: "th-2")), ("th-2", "guess"), ("th-9", try self.password(of: "th-1"))] {
            let (intruder, _, events) = try client(user, password: password, port: tlsPort, ca: ca)
            let refused = await pollUntil {
                events.items.contains { if case .connectFailed(.notAuthorized) = $0 { true } else { false } }
            }
            #expect(refused, "\(user) with a wrong password: \(events.items)")
            #expect(!events.items.contains { if case .connected = $0 { true } else { false } })
            await intruder.disconnect()
        }
        await edge.disconnect()
        await device.disconnect()
    }

    @Test("fogline-edge and fogline-sim connect over TLS with their provisioned credentials; the simulator refuses a credentials file that lacks a device")
    func edgeAndSimulatorOverTLS() async throws {
        let devices = ["thermostat-0001", "thermostat-0002", "thermostat-0003"]
        try await provision(devices: devices)
        let (broker, tlsPort, ca) = try await secureBroker()
        let site = try EdgeUnderTest(sharing: broker)
        let configuration = """
            broker:
              username: edge-a
              password_file: \(out.appendingPathComponent("edge-a.password").path)
              ca_file: \(ca)
            """
        try await offPool({ try site.startEdge(configuration: configuration, brokerURL: "mqtts://127.0.0.1:\(tlsPort)") })

        let security = ["--credentials", out.appendingPathComponent("devices.credentials").path, "--ca-file", ca]
        let simulator = try SimulatorProcess(
            broker: broker, directory: site.directory, brokerURL: "mqtts://127.0.0.1:\(tlsPort)",
            arguments: SimulatorProcess.profiles("thermostat") + ["--count", "3", "--rate", "5", "--duration", "3"] + security)
        let admin = AdminClient(port: site.adminPort)
        let ingested = await pollUntil(timeout: .seconds(60)) {
            let known = (try? await offPool({ try admin.devices() })) ?? [:]
            return devices.allSatisfy { (known[$0]?["telemetry"]?["received"]?.numberValue ?? 0) > 0 }
        }
        #expect(ingested, "every simulated device's telemetry reaches the edge over TLS\n\(simulator.log)\n\(site.log)")
        let (status, report) = try await offPool({ try simulator.finish() })
        #expect(status == 0, "\(simulator.log)")
        #expect(devices.allSatisfy { (report?.devices[$0]?.published ?? 0) > 0 })

        // One device more than the file has passwords for: refused before connecting, named.
        let short = try SimulatorProcess(
            broker: broker, directory: site.directory, brokerURL: "mqtts://127.0.0.1:\(tlsPort)",
            arguments: SimulatorProcess.profiles("thermostat") + ["--count", "4", "--duration", "1"] + security)
        let (shortStatus, _) = try await offPool({ try short.finish() })
        #expect(shortStatus != 0 && short.log.contains("no password for 1 simulated devices (thermostat-0004)"), "\(short.log)")
    }
}
