import FoglineConfig
import FoglineEdge
import FoglineTesting
import Foundation
import Testing

/// Secrets come from files or `FOGLINE_…` variables, never from flags; the admin API needs a
/// bearer token (compared in constant time) when it listens beyond loopback.
@Suite("secrets and the admin token")
struct SecretsAndTokenTests {
    static let token = "0123456789abcdef0123456789abcdef"

    @Test("a FOGLINE_… variable wins over its *_file setting; without either there is no secret")
    func secretSources() throws {
        let yaml = """
            site: plant-1
            node: edge-a
            broker: {password_file: /etc/fogline/broker-password}
            quorum: {peers: {edge-b: 10.0.0.2:7946}}
            cloud: {broker: {url: mqtt://cloud:1884, password_file: /etc/fogline/cloud-password}}
            """
        let fromFiles = try EdgeConfiguration.load(
            text: yaml.replacingOccurrences(of: "{peers:", with: "{site_key_file: /etc/fogline/site.key, peers:"), file: "edge.yaml")
        #expect(fromFiles.quorum.siteKey == .file("/etc/fogline/site.key"))
        #expect(fromFiles.broker.password == .file("/etc/fogline/broker-password"))
        #expect(fromFiles.cloud.broker?.password == .file("/etc/fogline/cloud-password"))
        #expect(fromFiles.cloud.signingKey == nil)
        #expect(fromFiles.adminToken == nil)

        let environment = [
            "FOGLINE_BROKER_PASSWORD": "secret", "FOGLINE_SITE_KEY": String(repeating: "k", count: 32),
            "FOGLINE_SIGNING_KEY": "base64", "FOGLINE_ADMIN_TOKEN": Self.token, "FOGLINE_CLOUD_BROKER_PASSWORD": "",
        ]
        let fromEnvironment = try EdgeConfiguration.load(text: yaml, file: "edge.yaml", environment: environment)
        #expect(fromEnvironment.broker.password == .environment("FOGLINE_BROKER_PASSWORD"))
        #expect(fromEnvironment.quorum.siteKey == .environment("FOGLINE_SITE_KEY"), "peers are satisfied by the variable")
        #expect(fromEnvironment.cloud.signingKey == .environment("FOGLINE_SIGNING_KEY"))
        #expect(fromEnvironment.adminToken == .environment("FOGLINE_ADMIN_TOKEN"))
        #expect(fromEnvironment.cloud.broker?.password == .file("/etc/fogline/cloud-password"), "an empty variable counts as unset")
        #expect(try SecretSource.environment("FOGLINE_ADMIN_TOKEN").text(environment: environment) == Self.token)
        #expect(throws: SecretError.self) { try SecretSource.file("/nonexistent/fogline-secret").text() }
    }

    @Test("the admin API beyond loopback needs a token; on loopback it does not")
    func nonLoopbackNeedsToken() throws {
        let flags = EdgeConfiguration.Overrides(site: "plant-1", node: "edge-a", admin: "0.0.0.0:8080")
        let error = try #require(throws: ConfigErrors.self) { try EdgeConfiguration.load(text: nil, file: "(flags)", overrides: flags) }
        #expect(error.description.contains("FOGLINE_ADMIN_TOKEN"), "\(error)")
        #expect(error.description.contains("admin.token_file"), "\(error)")
        let withToken = try EdgeConfiguration.load(
            text: nil, file: "(flags)", overrides: flags, environment: ["FOGLINE_ADMIN_TOKEN": Self.token])
        #expect(withToken.adminHost == "0.0.0.0")
        let fromFile = try EdgeConfiguration.load(
            text: "admin: {listen: 192.168.1.20:8080, token_file: /etc/fogline/admin-token}", file: "edge.yaml",
            overrides: .init(site: "plant-1", node: "edge-a"))
        #expect(fromFile.adminToken == .file("/etc/fogline/admin-token"))
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1"] { #expect(ListenAddress.isLoopback(host), "\(host)") }
        for host in ["0.0.0.0", "::", "192.168.1.20", "127.0.0", "edge-a.local", "127.0.0.1.example"] {
            #expect(!ListenAddress.isLoopback(host), "\(host)")
        }
    }

    @Test("bearer tokens: the exact token passes; a wrong, shorter, longer or missing one does not")
    func bearerToken() throws {
        #expect(BearerToken("short") == nil, "tokens shorter than 16 characters are refused")
        let token = try #require(BearerToken(Self.token))
        #expect(token.authorizes("Bearer \(Self.token)"))
        #expect(token.authorizes("bearer \(Self.token)"), "the scheme is case-insensitive")
        for header in [nil, "", "Bearer", "Bearer ", "Basic \(Self.token)", "Bearer \(Self.token.dropLast())", "Bearer \(Self.token)0",
                       "Bearer \(Self.token.uppercased())", Self.token] {
            #expect(!token.authorizes(header), "\(header ?? "nil")")
        }
        #expect(BearerToken.constantTimeEquals(Array("abc".utf8), Array("abc".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("abd".utf8), Array("abc".utf8)))
        #expect(!BearerToken.constantTimeEquals([], Array("abc".utf8)))
        #expect(!BearerToken.constantTimeEquals(Array("abc\0".utf8), Array("abc".utf8)))

        // Read from its source: none configured, long enough, too short (the error says how short).
        #expect(try BearerToken.read(from: nil, name: "the admin token") == nil)
        let environment = SecretSource.environment("FOGLINE_TEST_TOKEN_\(UInt32.random(in: 0...UInt32.max))")
        #expect(throws: SecretError.self) { try BearerToken.read(from: environment, name: "the admin token") }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "\(Self.token)\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try BearerToken.read(from: .file(file), name: "the admin token")?.authorizes("Bearer \(Self.token)") == true)
        try "short\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try BearerToken.read(from: .file(file), name: "the admin token")
        } throws: { error in
            "\(error)".contains("the admin token has 5 characters and must have at least 16")
        }
    }

    @Test("with a token, every admin route but GET /healthz answers 401 without it")
    func adminAccess() throws {
        let token = try #require(BearerToken(Self.token))
        #expect(AdminAccess.refusal(of: AdminRequest(method: "GET", path: "/healthz"), token: token) == nil)
        for (method, path) in [("GET", "/v1/status"), ("GET", "/metrics"), ("POST", "/v1/kv/a"), ("HEAD", "/healthz")] {
            let refused = AdminAccess.refusal(of: AdminRequest(method: method, path: path), token: token)
            #expect(refused?.status == 401, "\(method) \(path)")
            let allowed = AdminRequest(method: method, path: path, authorization: "Bearer \(Self.token)")
            #expect(AdminAccess.refusal(of: allowed, token: token) == nil)
        }
        #expect(AdminAccess.refusal(of: AdminRequest(method: "GET", path: "/v1/status"), token: nil) == nil)
    }

    @Test("no command-line option of fogline-edge or fogline-cloud takes a secret itself")
    func noSecretFlags() async throws {
        let commands: [(String, [String])] = [
            ("fogline-edge", ["run"]), ("fogline-edge", ["status"]), ("fogline-edge", ["kv", "get"]), ("fogline-edge", ["lease", "acquire"]),
            ("fogline-cloud", ["serve"]),
        ]
        for (program, subcommand) in commands {
            let binary = ProgramProcess.buildDirectory.appendingPathComponent(program).path
            let help = try await offPool { try ProgramProcess.run(binary, subcommand + ["--help"]) }
            let options = help.output.split(separator: "\n").flatMap { line in
                line.split(separator: " ").filter { $0.hasPrefix("--") }.map { String($0.split(separator: "=")[0].split(separator: "<")[0]) }
            }
            #expect(options.contains("--config") || options.contains("--admin"), "\(program) \(subcommand): \(help.output)")
            for option in options where ["password", "token", "secret", "key"].contains(where: option.contains) {
                #expect(option.hasSuffix("-file"), "\(program) \(subcommand.joined(separator: " ")) takes a secret on the command line: \(option)")
            }
        }
    }
}

/// The admin token against a real `fogline-edge` listening on every address.
@Suite("admin token against a real process", .serialized)
struct AdminTokenProcessTests {
    @Test("bound to 0.0.0.0 with FOGLINE_ADMIN_TOKEN: 401 without or with a wrong token, 200 with it; /healthz open; the CLI sends it")
    func tokenRequired() async throws {
        let site = try EdgeUnderTest()
        let token = SecretsAndTokenTests.token
        try site.launchEdge(environment: ["FOGLINE_ADMIN_TOKEN": token], adminHost: "0.0.0.0")
        try await pollUntil("the edge's /healthz to report ok without a token\n\(site.log)") {
            try await requestOffPool(port: site.adminPort, "GET", "/healthz").status == 200
        }
        let missing = try await requestOffPool(port: site.adminPort, "GET", "/v1/status")
        #expect(missing.status == 401)
        #expect(missing.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(missing.text.contains("FOGLINE_ADMIN_TOKEN"))
        let wrong = try await requestOffPool(
            port: site.adminPort, "GET", "/v1/status", headers: ["Authorization": "Bearer \(String(token.reversed()))"])
        #expect(wrong.status == 401)
        let write = try await requestOffPool(port: site.adminPort, "PUT", "/v1/devices/th-1/desired", body: Array(#"{"fields":{"a":1}}"#.utf8))
        #expect(write.status == 401)
        let right = try await requestOffPool(port: site.adminPort, "GET", "/v1/status", headers: ["Authorization": "Bearer \(token)"])
        #expect(right.status == 200)

        let tokenFile = site.directory.appendingPathComponent("admin-token")
        try (token + "\n").write(to: tokenFile, atomically: true, encoding: .utf8)
        let binary = ProgramProcess.buildDirectory.appendingPathComponent("fogline-edge").path
        let admin = "127.0.0.1:\(site.adminPort)"
        let withFile = try await offPool { try ProgramProcess.run(binary, ["status", "--admin", admin, "--token-file", tokenFile.path]) }
        #expect(withFile.status == 0, "\(withFile.output)")
        #expect(withFile.output.contains(#""node":"edge-a""#))
        let without = try await offPool { try ProgramProcess.run(binary, ["status", "--admin", admin]) }
        #expect(without.status != 0, "\(without.output)")
    }
}
