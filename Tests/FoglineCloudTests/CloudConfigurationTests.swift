import Crypto
@testable import FoglineCloud
import FoglineConfig
import FoglineWire
import Foundation
import Testing

@Suite("Cloud configuration")
struct CloudConfigurationTests {
    @Test("edge-config/cloud.yaml loads with the documented defaults")
    func exampleFile() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("edge-config/cloud.yaml")
        let config = try CloudConfiguration.load(text: try String(contentsOf: file, encoding: .utf8), file: file.path)
        #expect(config.httpHost == "127.0.0.1" && config.httpPort == 8_480)
        #expect(config.database == .sqlite(path: "./fogline-cloud.sqlite"))
        #expect(config.broker.url == "mqtt://127.0.0.1:1884")
        #expect(config.upFilter == "$share/fogline-cloud/fogline/v1/sync/+/+/up")
        #expect(config.maxPartBytes == 262_144 && config.maxBatchEntries == 5_000 && !config.acceptUnsigned)
        #expect(config.instance.count > 9, "a default instance name with random digits")
    }

    @Test("flags override the file; keys and sites are read")
    func overrides() throws {
        let key = Curve25519.Signing.PrivateKey().publicKey
        let text = """
            instance: c1
            database: postgres://fogline@db/fogline
            broker:
              url: mqtt://10.0.0.1:1884
              shared_subscription: false
              reconnect_max_s: 9
            sites:
              plant-1:
                nodes:
                  edge-a: \(SigningKeyText.text(of: key))
            """
        let config = try CloudConfiguration.load(
            text: text, file: "c.yaml", overrides: .init(broker: "mqtt://127.0.0.1:2000", http: "0.0.0.0:9000", database: "sqlite:data/x.db", instance: "c2"),
            environment: ["FOGLINE_API_TOKEN": String(repeating: "t", count: 32)])
        #expect(config.apiToken == .environment("FOGLINE_API_TOKEN"), "0.0.0.0 needs a token")
        #expect(config.instance == "c2")
        #expect(config.broker.url == "mqtt://127.0.0.1:2000")
        #expect(config.httpHost == "0.0.0.0" && config.httpPort == 9_000)
        #expect(config.database == .sqlite(path: "data/x.db"))
        #expect(config.upFilter == "fogline/v1/sync/+/+/up")
        #expect(try config.mqttConfiguration().reconnectBackoff.maximumDelay == .seconds(9))
        #expect(config.nodeKeys["plant-1"]?["edge-a"]?.rawRepresentation == key.rawRepresentation)
    }

    @Test("every problem is reported as FILE:LINE: message")
    func problems() {
        let text = """
            http:
              listen: nowhere
            databse: sqlite:x
            sync:
              max_part_bytes: 3
            sites:
              plant-1:
                nodes:
                  edge-a: not-a-key
            postgres_schema: 1abc
            broker:
              cert_file: /etc/fogline/cloud.pem
              url: http://broker.example
            """
        do {
            _ = try CloudConfiguration.load(text: text, file: "cloud.yaml", overrides: .init(db: nil))
            Issue.record("the configuration was accepted")
        } catch {
            let lines = error.description.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.hasPrefix("cloud.yaml:2: `listen`: `nowhere` needs a port") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("cloud.yaml:3: unknown key `databse`") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("cloud.yaml:5: `max_part_bytes` must be between") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("cloud.yaml:9: the key of node `edge-a`") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("cloud.yaml:10: `postgres_schema`") }, "as the PostgreSQL store checks it: \(lines)")
            #expect(lines.contains { $0.contains("`cert_file` and `key_file` go together") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("cloud.yaml:13: `url`:") && $0.contains("unknown scheme \"http\"") }, "\(lines)")
        }
        #expect {
            try CloudConfiguration.load(text: "sites:\n  sync:\n    nodes: {}\n", file: "s.yaml", overrides: .init(db: nil))
        } throws: { error in
            "\(error)".contains("s.yaml:2: site `sync`: is reserved")
        }
        #expect {
            try CloudConfiguration.load(text: nil, file: "(flags)", overrides: .init(http: "127.0.0.1:70000"))
        } throws: { error in
            "\(error)".contains("--http: `127.0.0.1:70000` has an invalid port; use 1–65535")
        }
        #expect {
            try CloudConfiguration.load(text: nil, file: "(flags)", overrides: .init(broker: "mqtt://user@host:1884"))
        } throws: { error in
            "\(error)".contains("--broker: ") && "\(error)".contains("contains credentials")
        }
    }

    @Test("secrets: the API beyond loopback needs a token; the broker password and database URL come from the environment; --db refuses a password")
    func secrets() throws {
        let open = try #require(throws: ConfigErrors.self) {
            try CloudConfiguration.load(text: "http: {listen: 0.0.0.0:8480}", file: "cloud.yaml")
        }
        #expect(open.description.contains("FOGLINE_API_TOKEN") && open.description.contains("http.token_file"), "\(open)")
        let tokenFile = try CloudConfiguration.load(text: "http: {listen: 0.0.0.0:8480, token_file: /etc/fogline/api-token}", file: "cloud.yaml")
        #expect(tokenFile.apiToken == .file("/etc/fogline/api-token"))
        #expect(try CloudConfiguration.load(text: nil, file: "(flags)").apiToken == nil, "loopback needs no token")

        let environment = [
            "FOGLINE_BROKER_PASSWORD": "pw", "FOGLINE_DATABASE_URL": "postgres://fogline:secret@db:5432/fogline",
        ]
        let fromEnvironment = try CloudConfiguration.load(
            text: "broker: {password_file: /etc/fogline/broker-password}\ndatabase: sqlite:x.db", file: "cloud.yaml", environment: environment)
        #expect(fromEnvironment.broker.password == .environment("FOGLINE_BROKER_PASSWORD"))
        #expect(fromEnvironment.database == .postgres(url: "postgres://fogline:secret@db:5432/fogline"))

        let flag = try #require(throws: ConfigErrors.self) {
            try CloudConfiguration.load(text: nil, file: "(flags)", overrides: .init(database: "postgres://fogline:secret@db/fogline"))
        }
        #expect(flag.description.contains("FOGLINE_DATABASE_URL"), "\(flag)")
        #expect(!flag.description.contains("secret"), "the error must not repeat the password")
        let withoutPassword = try CloudConfiguration.load(text: nil, file: "(flags)", overrides: .init(database: "postgres://fogline@db/fogline"))
        #expect(withoutPassword.database == .postgres(url: "postgres://fogline@db/fogline"))
    }
}

extension CloudConfiguration.Overrides {
    init(db: String?) { self.init(database: db) }
}
