import FoglineMQTT
import FoglineTesting
import Foundation
import Testing

@Suite("MQTTClient credentials and TLS")
struct MQTTClientSecurityTests {
    @Test(
        "a wrong password is reported clearly and the right one works",
        .enabled(if: executablePath("mosquitto_passwd") != nil, "mosquitto_passwd is not installed (mosquitto package)"),
        arguments: [MQTTProtocolVersion.v311, .v5])
    func passwordFile(protocolVersion: MQTTProtocolVersion) async throws {
        let directory = try TemporaryDirectory()
        let passwordFile = directory.path("passwords")
        try await runTool(executablePath("mosquitto_passwd") ?? "mosquitto_passwd", ["-b", "-c", passwordFile, "fogline", "s3cret"])
        // The broker drops root privileges to the mosquitto user, which must read the file.
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: passwordFile)
        let broker = try await startBroker(extraConfiguration: "password_file \(passwordFile)\nallow_anonymous false")

        var wrong = fastConfiguration(broker)
        wrong.protocolVersion = protocolVersion
        wrong.username = "fogline"
        wrong.password = "wrong"
        let intruder = try MQTTClient(configuration: wrong, logger: testLogger("wrong-password"))
        let events = Collector(intruder.events)
        intruder.start()
        let failure = try await events.waitFor("the refusal") { if case .connectFailed = $0 { true } else { false } }
        guard case .connectFailed(let reason) = failure else { return }
        guard case .notAuthorized = reason else {
            Issue.record("expected notAuthorized, got \(reason)")
            return
        }
        #expect("\(reason)".contains("password"))
        do {
            try await intruder.waitUntilConnected(timeout: .milliseconds(300))
            Issue.record("connected with a wrong password")
        } catch let error as MQTTClientError {
            // The timeout names the reason of the last failed attempt.
            #expect("\(error)".contains("refused the login"))
        }
        #expect(!"\(wrong)".contains("wrong"))  // The password never appears in descriptions.
        await intruder.disconnect()

        var right = wrong
        right.password = "s3cret"
        let client = try await connectedClient(right, label: "right-password")
        #expect(client.isConnected)
        await client.disconnect()
    }

    @Test(
        "TLS with a throwaway CA: verified connection works, an unknown CA and plain MQTT are refused",
        .enabled(if: executablePath("openssl") != nil, "the openssl CLI is not installed, so no certificates can be made"))
    func tls() async throws {
        let directory = try TemporaryDirectory()
        let authority = try await CertificateAuthority(in: directory.url, name: "ca")
        let server = try await authority.issueServerCertificate(name: "server", ipAddress: "127.0.0.1")
        let broker = try await startBroker(extraConfiguration: """
            cafile \(authority.certificate)
            certfile \(server.certificate)
            keyfile \(server.key)
            """)

        var configuration = fastConfiguration(broker)
        configuration.tls = MQTTTLSConfiguration(caFile: authority.certificate)
        #expect(configuration.brokerDescription.hasPrefix("mqtts://"))
        let client = try await connectedClient(configuration, label: "tls")
        let received = Collector(client.messages)
        let topic = uniqueTopic("tls")
        try await client.subscribe(topic)
        try await client.publish(MQTTMessage(topic: topic, payload: Array(0...255), qos: .atLeastOnce))
        let message = try await received.waitFor("the message over TLS") { $0.topic == topic }
        #expect(message.payload == Array(0...255))
        await client.disconnect()

        // A CA that did not sign the broker's certificate.
        let stranger = try await CertificateAuthority(in: directory.url, name: "stranger")
        var untrusting = fastConfiguration(broker)
        untrusting.tls = MQTTTLSConfiguration(caFile: stranger.certificate)
        let refused = try MQTTClient(configuration: untrusting, logger: testLogger("tls-untrusted"))
        let events = Collector(refused.events)
        refused.start()
        let failure = try await events.waitFor("the TLS failure") { if case .connectFailed = $0 { true } else { false } }
        guard case .connectFailed(let reason) = failure else { return }
        guard case .tlsFailed(_, let detail) = reason else {
            Issue.record("expected tlsFailed, got \(reason)")
            return
        }
        #expect(detail.contains("certificate verify failed"))
        #expect(!refused.isConnected)
        await refused.disconnect()

        // Plain MQTT to the TLS port: the attempt fails, it does not hang.
        let plain = try MQTTClient(configuration: fastConfiguration(broker), logger: testLogger("tls-plain"))
        let plainEvents = Collector(plain.events)
        plain.start()
        _ = try await plainEvents.waitFor("the failed plain attempt") { if case .connectFailed = $0 { true } else { false } }
        await plain.disconnect()
    }
}
