import FoglineConfig
import FoglineEdge
import Foundation
import Testing

@Suite("Edge configuration")
struct EdgeConfigurationTests {
    @Test("the example config in edge-config/ loads and is what it documents")
    func exampleLoads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../edge-config/edge-a.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        let config = try EdgeConfiguration.load(text: text, file: "edge-a.yaml")
        #expect(config.site == "plant-1" && config.node == "edge-a")
        #expect(config.broker.host == "127.0.0.1" && config.broker.port == 1883)
        #expect(config.adminPort == 8080 && config.flushIntervalMilliseconds == 200)
        #expect(config == {
            var defaults = EdgeConfiguration()
            defaults.site = "plant-1"
            defaults.node = "edge-a"
            // The example is one node of a three-node site; everything else is the default.
            defaults.quorum.peers = ["edge-b": .init(host: "127.0.0.1", port: 7947), "edge-c": .init(host: "127.0.0.1", port: 7948)]
            defaults.quorum.siteKeyFile = "/etc/fogline/site.key"
            defaults.quorum.siteKey = .file("/etc/fogline/site.key")
            // ...with an uplink to the demo's aggregator broker.
            defaults.cloud.broker = EdgeConfiguration.Broker(port: 1884)
            defaults.cloud.signingKeyFile = "/etc/fogline/edge-a-uplink.key"
            defaults.cloud.signingKey = .file("/etc/fogline/edge-a-uplink.key")
            return defaults
        }(), "the example must show the defaults")
        for other in ["edge-b", "edge-c"] {
            let file = url.deletingLastPathComponent().appendingPathComponent("\(other).yaml")
            let peer = try EdgeConfiguration.load(text: try String(contentsOf: file, encoding: .utf8), file: "\(other).yaml")
            #expect(peer.node == other && peer.quorum.peers.count == 2 && peer.quorum.peers[other] == nil)
            #expect(peer.quorum.peers["edge-a"]?.port == config.quorum.listenPort, "the nodes must point at each other")
        }
    }

    @Test("an mqtts:// broker URL turns TLS on (port 8883 by default), from the file and from --broker")
    func tlsBrokerURL() throws {
        let file = try EdgeConfiguration.load(text: "site: s\nnode: a\nbroker:\n  url: mqtts://broker.local\n", file: "e.yaml")
        #expect(file.broker.usesTLS && file.broker.host == "broker.local" && file.broker.port == 8883)
        let flags = try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", broker: "mqtts://10.0.0.2:9883"))
        #expect(flags.broker.usesTLS && flags.broker.port == 9883)
        let plain = try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", broker: "mqtt://10.0.0.2"))
        #expect(!plain.broker.usesTLS)
    }

    @Test("cloud settings: --cloud sets the aggregator's broker; bad values are reported with their line")
    func cloudSettings() throws {
        let flags = try EdgeConfiguration.load(
            text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", cloud: "mqtt://10.0.0.9:1885"))
        #expect(flags.cloud.broker?.host == "10.0.0.9" && flags.cloud.broker?.port == 1885)
        #expect(try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a")).cloud.broker == nil)
        #expect(try EdgeConfiguration.load(text: "site: s\nnode: a\ncloud:\n  reconnect_max_s: 12\n", file: "r.yaml").cloud.reconnectMaxSeconds == 12)
        #expect(throws: ConfigErrors.self) { try EdgeConfiguration.load(text: "site: s\nnode: a\ncloud:\n  reconnect_max_s: 0\n", file: "r.yaml") }
        #expect(try EdgeConfiguration.load(text: "site: s\nnode: a\n", file: "w.yaml").cloud.maxInFlightBatches == 32)
        #expect(try EdgeConfiguration.load(text: "site: s\nnode: a\ncloud:\n  max_in_flight_batches: 4\n", file: "w.yaml").cloud.maxInFlightBatches == 4)
        #expect(throws: ConfigErrors.self) { try EdgeConfiguration.load(text: "site: s\nnode: a\ncloud:\n  max_in_flight_batches: 0\n", file: "w.yaml") }
        #expect(throws: ConfigErrors.self) {
            try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", cloud: "http://x"))
        }
        let yaml = """
        site: s
        node: a
        cloud:
          broker: {url: "mqtt://h:1", cert_file: /c}
          max_part_bytes: 10
          colour: blue
        """
        do {
            _ = try EdgeConfiguration.load(text: yaml, file: "c.yaml")
            Issue.record("a bad cloud section was accepted")
        } catch {
            let text = error.description
            #expect(text.contains("c.yaml:5:") && text.contains("c.yaml:6:") && text.contains("cert_file"), "\(text)")
        }
    }

    @Test("quorum settings: flags replace the peers; a peer that is this node or peers without a site key are refused")
    func quorumSettings() throws {
        let flags = try EdgeConfiguration.load(
            text: nil, file: "(flags)",
            overrides: .init(site: "s", node: "a", listen: "127.0.0.1:9001", peers: ["b=127.0.0.1:9002", "c=127.0.0.1:9003"], siteKeyFile: "/k"))
        #expect(flags.quorum.listenPort == 9001 && flags.quorum.peers["c"]?.port == 9003 && flags.quorum.siteKeyFile == "/k")
        #expect(throws: ConfigErrors.self) {
            try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", peers: ["b=127.0.0.1:9002"]))
        }
        #expect(throws: ConfigErrors.self) {
            try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", peers: ["a=127.0.0.1:9002"], siteKeyFile: "/k"))
        }
        #expect(throws: ConfigErrors.self) {
            try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "s", node: "a", peers: ["b:9002"], siteKeyFile: "/k"))
        }
        let yaml = """
        site: s
        node: a
        quorum:
          peers: {b: "nohost"}
          shards: 0
          roles: backup
        """
        do {
            _ = try EdgeConfiguration.load(text: yaml, file: "q.yaml")
            Issue.record("a bad quorum section was accepted")
        } catch {
            let text = error.description
            #expect(text.contains("q.yaml:4:") && text.contains("q.yaml:5:") && text.contains("q.yaml:6:"), "\(text)")
        }
    }

    @Test("every address setting and flag is read once: a good one is used, a bad one is reported with its key or flag")
    func addresses() throws {
        let good = try EdgeConfiguration.load(
            text: """
            site: s
            node: a
            broker: {url: "mqtts://broker.example:8883"}
            admin: {listen: "127.0.0.1:9100"}
            quorum: {listen: "[::1]:9101", peers: {b: "10.0.0.2:9102"}, site_key_file: /k}
            """, file: "good.yaml", overrides: .init(cloud: "mqtt://cloud.example:1884"))
        #expect(good.broker.host == "broker.example" && good.broker.port == 8883 && good.broker.usesTLS)
        #expect(good.adminHost == "127.0.0.1" && good.adminPort == 9100)
        #expect(good.quorum.listenHost == "::1" && good.quorum.listenPort == 9101 && good.quorum.peers["b"]?.port == 9102)
        #expect(good.cloud.broker?.host == "cloud.example" && good.cloud.broker?.port == 1884 && good.cloud.broker?.usesTLS == false)

        let yaml = """
        site: s
        node: a
        broker: {url: "http://broker.example"}
        admin: {listen: "nowhere"}
        quorum: {listen: ":9101", peers: {b: "10.0.0.2:0", c: {host: x}}, site_key_file: /k}
        """
        let fileErrors = #expect(throws: ConfigErrors.self) { try EdgeConfiguration.load(text: yaml, file: "bad.yaml") }
        let fileLines = fileErrors?.problems.map { "\($0.line): \($0.message)" } ?? []
        for expected in ["3: `url`:", "4: `listen`: `nowhere` needs a port", "5: `listen`: `:9101` has no host", "5: peer `b`: `10.0.0.2:0` has an invalid port", "5: peer `c` must be HOST:PORT"] {
            #expect(fileLines.contains { $0.hasPrefix(expected) }, "\(expected) in \(fileLines)")
        }
        let flagErrors = #expect(throws: ConfigErrors.self) {
            try EdgeConfiguration.load(
                text: nil, file: "(flags)",
                overrides: .init(
                    site: "s", node: "a", broker: "broker.example", admin: "127.0.0.1", listen: "x:y", peers: ["b=nohost"],
                    siteKeyFile: "/k", cloud: "mqtt://:1"))
        }
        let flagMessages = flagErrors?.problems.map(\.message) ?? []
        for flag in ["--broker:", "--cloud:", "--admin: `127.0.0.1` needs a port", "--listen: `x:y` has an invalid port", "--peer b=nohost: `nohost` needs a port"] {
            #expect(flagMessages.contains { $0.hasPrefix(flag) }, "\(flag) in \(flagMessages)")
        }
    }

    @Test("a site may not take a reserved name, from the file or from --site")
    func reservedSite() {
        let fileErrors = #expect(throws: ConfigErrors.self) { try EdgeConfiguration.load(text: "node: a\nsite: sync\n", file: "s.yaml") }
        #expect(fileErrors?.problems.map(\.description) == ["s.yaml:2: `site`: is reserved (`fogline/v1/sync/…` are Fogline's own topics); choose another"])
        let flagErrors = #expect(throws: ConfigErrors.self) {
            try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: .init(site: "sync", node: "a"))
        }
        #expect(flagErrors?.problems.map(\.message).contains { $0.hasPrefix("--site: is reserved") } == true, "\(String(describing: flagErrors))")
    }

    @Test("flags alone are enough to run a node, and override the file")
    func flagsOverride() throws {
        let config = try EdgeConfiguration.load(
            text: nil, file: "(none)",
            overrides: .init(site: "s1", node: "n1", broker: "mqtt://broker.plant.example:1884", dataDirectory: "/srv/fogline", admin: "127.0.0.1:9000"))
        #expect(config.site == "s1" && config.node == "n1" && config.broker.host == "broker.plant.example" && config.broker.port == 1884)
        #expect(config.dataDirectory == "/srv/fogline" && config.adminPort == 9000)
        let overridden = try EdgeConfiguration.load(text: "site: a\nnode: b\n", file: "f.yaml", overrides: .init(node: "c"))
        #expect(overridden.node == "c")
    }

    @Test("every problem is reported with its line, not just the first")
    func everyProblemWithLine() {
        let text = """
        site: "bad site"
        node: edge-a
        broker:
          url: http://x:1
          send_maxium: 3
        admin:
          listen: 127.0.0.1
        devices:
          presence_timeout_s: -5
          keep_raw_telemetry: maybe
        log:
          level: loud
        """
        do {
            _ = try EdgeConfiguration.load(text: text, file: "edge.yaml")
            Issue.record("a config with six problems loaded")
        } catch {
            let lines = error.problems.map(\.line)
            #expect(lines == [1, 4, 5, 7, 9, 10, 12], "\(error)")
            #expect(error.problems.allSatisfy { $0.description.hasPrefix("edge.yaml:") })
            #expect(error.description.contains("unknown key `send_maxium` in broker; known keys:"))
            #expect(error.description.contains("between 1 and 86400, got -5"))
        }
    }

    @Test("syntax errors and missing required keys are reported")
    func syntaxAndRequired() {
        do {
            _ = try EdgeConfiguration.load(text: "site: [unclosed\n", file: "x.yaml")
            Issue.record("accepted broken YAML")
        } catch {
            #expect(error.problems.first?.message.hasPrefix("not valid YAML") == true)
        }
        do {
            _ = try EdgeConfiguration.load(text: "log:\n  level: info\n", file: "y.yaml")
            Issue.record("accepted a config without site and node")
        } catch {
            #expect(error.problems.map(\.message).contains { $0.contains("`site` is required") })
            #expect(error.problems.map(\.message).contains { $0.contains("`node` is required") })
        }
        do {
            _ = try EdgeConfiguration.load(text: nil, file: "-", overrides: .init(site: "ok", node: "n", broker: "mqtt://h:99999"))
            Issue.record("accepted port 99999")
        } catch {
            #expect(error.description.hasPrefix("command line: --broker:"))
        }
    }
}
