import FoglineCore
import FoglineSim
import Foundation
import Testing

@Suite("Device profiles")
struct ProfileLoadingTests {
    @Test("every profile in devices/ loads, and a simulation accepts it")
    func everyProfileLoads() throws {
        let files = try Fixtures.allProfileFiles()
        #expect(files.count >= 5)
        for file in files {
            let profile = try Profile.load(path: "\(Fixtures.devicesDirectory)/\(file)")
            #expect(file == "\(profile.kind).yaml", "one file per kind, named after it")
            _ = try Simulation(profiles: [(profile, 2)], site: Fixtures.site, seed: 1)
        }
    }

    @Test("the shipped profiles say what the brief asks of each kind")
    func shippedProfiles() throws {
        let thermostat = try Fixtures.profile("thermostat")
        #expect(thermostat.metrics.map(\.name) == ["temp"])
        #expect(thermostat.reported.map(\.name) == ["setpoint", "mode"])
        // YAML 1.1 would read `off` as false; profiles use YAML 1.2 scalars.
        #expect(thermostat.desired.first { $0.field == "mode" }?.constraint.allowedStrings == ["off", "heat", "cool", "auto"])
        #expect(thermostat.reported.first { $0.name == "mode" }?.initialValue == .string("heat"))

        let meter = try Fixtures.profile("power_meter")
        guard case .counter = meter.metrics[0].generator, case .randomWalk = meter.metrics[1].generator else {
            Issue.record("power_meter: energy_wh should be a counter and power_w a random walk")
            return
        }
        let valve = try Fixtures.profile("valve")
        #expect(Set(valve.commands.map(\.name)) == ["open_valve", "close_valve", "set_position"])
        let door = try Fixtures.profile("door_sensor")
        #expect(!door.supportsReplay && door.replayBufferSize == 0 && door.telemetryQoS == .atMostOnce)
        let air = try Fixtures.profile("air_quality")
        #expect(air.metrics.map(\.name) == ["co2_ppm", "pm25", "voc"])
    }

    static let valid = """
        kind: probe
        firmware: "1.0"
        rate_hz: 2
        supports_replay: true
        replay_buffer: 8
        metrics:
          - name: level
            unit: m
            sine: { period_s: 60, amplitude: 1, offset: 5, noise: 0 }
        reported:
          target: 5
        """

    @Test("a minimal profile parses with the defaults")
    func minimalProfile() throws {
        let profile = try Profile.parse(yaml: Self.valid, file: "probe.yaml")
        #expect(profile.kind == "probe" && profile.rateHz == 2 && profile.telemetryQoS == .atLeastOnce)
        #expect(profile.metrics == [MetricSpec(name: "level", unit: "m", decimals: 2, generator: .sine(periodSeconds: 60, amplitude: 1, offset: 5, noise: 0, offsetField: nil))])
        #expect(profile.reported == [ReportedField(name: "target", initialValue: .number(5))])
        #expect(profile.desired.isEmpty && profile.commands.isEmpty)
    }

    /// Parses `yaml` and returns the error it gives.
    private func parseError(_ yaml: String) -> ProfileError? {
        do {
            _ = try Profile.parse(yaml: yaml, file: "devices/bad.yaml")
            return nil
        } catch {
            return error
        }
    }

    @Test(
        "a bad profile names the file, the line and the key",
        arguments: [
            // (the valid profile with one line replaced, expected key, expected line, words in the message)
            ("rate_hz: 2", "rate_hz: fast", "rate_hz", 3, "must be a number"),
            ("rate_hz: 2", "rate_hz: 0", "rate_hz", 3, "more than 0"),
            ("rate_hz: 2", "rate: 2", "rate", 3, "unknown key"),
            ("supports_replay: true", "supports_replay: yes", "supports_replay", 4, "true or false"),
            ("replay_buffer: 8", "replay_buffer: 0", "replay_buffer", 5, "from 1"),
            ("period_s: 60,", "perod_s: 60,", "metrics[0].sine.perod_s", 9, "unknown key"),
            ("period_s: 60,", "period_s: -1,", "metrics[0].sine.period_s", 9, "more than 0"),
            ("kind: probe", "kind: bad probe", "kind", 1, "letters, digits"),
            ("  target: 5", "  target: [1, 2]", "reported.target", 11, "single value"),
        ] as [(String, String, String, Int, String)]
    )
    func badProfile(original: String, replacement: String, key: String, line: Int, words: String) throws {
        let yaml = Self.valid.replacingOccurrences(of: original, with: replacement)
        #expect(yaml != Self.valid)
        let error = try #require(parseError(yaml))
        #expect(error.file == "devices/bad.yaml")
        #expect(error.key == key)
        #expect(error.line == line)
        #expect(error.message.contains(words), "\(error)")
        #expect(error.description.hasPrefix("devices/bad.yaml:\(line): key `\(key)`: "), "\(error)")
    }

    @Test("a missing key is named, at the line of its mapping")
    func missingKey() throws {
        let error = try #require(parseError(Self.valid.replacingOccurrences(of: "rate_hz: 2\n", with: "")))
        #expect(error.key == "rate_hz" && error.line == 1 && error.message.contains("missing"))
        let noUnit = try #require(parseError(Self.valid.replacingOccurrences(of: "    unit: m\n", with: "")))
        #expect(noUnit.key == "metrics[0].unit" && noUnit.line == 7)
    }

    @Test("references to reported fields are checked")
    func references() throws {
        let offset = try #require(parseError(Self.valid.replacingOccurrences(of: "noise: 0 }", with: "noise: 0, offset_field: nope }")))
        #expect(offset.key == "metrics[0].sine.offset_field" && offset.message.contains("no reported field \"nope\""))
        let desired = try #require(parseError(Self.valid + "\ndesired:\n  speed: {}\n"))
        #expect(desired.key == "desired.speed" && desired.line == 13)
        let constant = try #require(parseError(Self.valid + "\ncommands:\n  reset:\n    target: high\n"))
        #expect(constant.key == "commands.reset.target" && constant.message.contains("must be a number"))
        let bound = try #require(parseError(Self.valid + "\ncommands:\n  move:\n    target: { arg: to, default: 50, max: 10 }\n"))
        #expect(bound.key == "commands.move.target.default" && bound.message.contains("at most 10"))
    }

    @Test("a metric needs exactly one generator")
    func oneGenerator() throws {
        let two = try #require(parseError(Self.valid.replacingOccurrences(
            of: "noise: 0 }", with: "noise: 0 }\n    counter: { rate_per_s: 1 }")))
        #expect(two.key == "metrics[0]" && two.message.contains("sine and counter"))
    }

    @Test("YAML syntax errors and repeated keys give the line")
    func yamlErrors() throws {
        let syntax = try #require(parseError("kind: probe\nmetrics: [unclosed\nfirmware: x\n"))
        #expect(syntax.file == "devices/bad.yaml" && syntax.line != nil && syntax.message.contains("not valid YAML"))
        let repeated = try #require(parseError(Self.valid + "\nkind: again\n"))
        #expect(repeated.key == "kind" && repeated.message.contains("more than once"), "\(repeated)")
        let empty = try #require(parseError(""))
        #expect(empty.message.contains("empty"))
    }

    @Test("Profile.load names the file it could not read or parse")
    func loadFromDisk() throws {
        let missing = "/nonexistent/\(UUID().uuidString).yaml"
        #expect(throws: ProfileError.self) { try Profile.load(path: missing) }
        do {
            _ = try Profile.load(path: missing)
        } catch {
            #expect(error.file == missing && error.description.hasPrefix(missing))
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-sim-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("broken.yaml").path
        try Self.valid.replacingOccurrences(of: "rate_hz: 2", with: "rate_hz: \"2\"").write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try Profile.load(path: path)
            Issue.record("a quoted rate should be refused")
        } catch {
            #expect(error.description == "\(path):3: key `rate_hz`: must be a number, got the quoted string \"2\"")
        }
    }
}
