import FoglineMQTT
import FoglineTesting
import Testing

@Suite("MQTT configuration and backoff values")
struct MQTTValueTests {
    @Test("backoff doubles from the minimum up to the cap, and jitter only shortens it")
    func backoff() {
        let exact = MQTTReconnectBackoff(minimumDelay: .milliseconds(100), maximumDelay: .seconds(1), jitter: 0)
        let delays = (0..<8).map { exact.delay(afterFailedAttempts: $0) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800),
                           .seconds(1), .seconds(1), .seconds(1), .seconds(1)])
        #expect(exact.delay(afterFailedAttempts: 10_000) == .seconds(1))

        let jittered = MQTTReconnectBackoff(minimumDelay: .milliseconds(100), maximumDelay: .seconds(1), jitter: 0.5)
        var random = SeededRandom(seed: 7)
        for attempts in 0..<20 {
            let base = exact.delay(afterFailedAttempts: attempts)
            let delay = jittered.delay(afterFailedAttempts: attempts, using: &random)
            #expect(delay <= base && delay >= base / 2)
        }
        let spread = Set((0..<20).map { _ in jittered.delay(afterFailedAttempts: 3, using: &random) })
        #expect(spread.count > 10)  // Clients that failed together do not retry together.
    }

    @Test("broker URLs", arguments: [
        ("mqtt://127.0.0.1:1883", "127.0.0.1", 1883, false),
        ("mqtt://broker.local", "broker.local", 1883, false),
        ("tcp://10.0.0.5:11883/", "10.0.0.5", 11883, false),
        ("mqtts://cloud.example:8884", "cloud.example", 8884, true),
        ("ssl://cloud.example", "cloud.example", 8883, true),
        ("mqtt://[::1]:1884", "::1", 1884, false),
    ])
    func brokerURL(url: String, host: String, port: Int, usesTLS: Bool) throws {
        let configuration = try MQTTClientConfiguration(brokerURL: url, clientID: "x")
        #expect(configuration.host == host)
        #expect(configuration.port == port)
        #expect((configuration.tls != nil) == usesTLS)
    }

    @Test("bad broker URLs say what to write instead", arguments: [
        "127.0.0.1:1883", "http://127.0.0.1", "mqtt://", "mqtt://host:99999", "mqtt://user:pw@host", "mqtt://host/path",
    ])
    func badBrokerURL(url: String) {
        #expect {
            _ = try MQTTClientConfiguration(brokerURL: url)
        } throws: { error in
            "\(error)".contains("mqtt://HOST:PORT")
        }
    }

    @Test("descriptions never contain the password")
    func passwordIsRedacted() {
        var configuration = MQTTClientConfiguration(host: "127.0.0.1", clientID: "edge-1")
        configuration.username = "edge"
        configuration.password = "hunter2"
        #expect(!"\(configuration)".contains("hunter2"))
        #expect("\(configuration)".contains("<redacted>"))
        var dumped = ""
        dump(configuration, to: &dumped)
        #expect(!dumped.contains("hunter2"))
        #expect(!String(reflecting: configuration).contains("hunter2"))
    }

    @Test("random client ids are distinct")
    func clientIDs() {
        let ids = Set((0..<1_000).map { _ in MQTTClientConfiguration.randomClientID(prefix: "dev") })
        #expect(ids.count == 1_000)
        #expect(ids.allSatisfy { $0.hasPrefix("dev-") && $0.count == 16 })
    }
}
