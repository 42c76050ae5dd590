import FoglineTesting
import FoglineWire
import Testing

/// The rejection parsing `topic` throws, or `nil` if it parses.
func topicRejection(_ topic: String, expectedSite: String? = nil) -> PayloadRejection? {
    rejection { () throws(PayloadRejection) in _ = try FoglineTopic.parse(topic, expectedSite: expectedSite) }
}

@Suite("FoglineTopic")
struct TopicParserTests {
    @Test func buildsTheContractTopics() {
        #expect(FoglineTopic.device(site: "plant-1", device: "th-7", .telemetry).string == "fogline/v1/plant-1/dev/th-7/telemetry")
        #expect(FoglineTopic.device(site: "s", device: "d", .cmdAck).string == "fogline/v1/s/dev/d/cmd/ack")
        #expect(FoglineTopic.nodeStatus(site: "s", node: "edge-a").string == "fogline/v1/s/node/edge-a/status")
        #expect(FoglineTopic.sync(site: "s", node: "edge-a", .up).string == "fogline/v1/sync/s/edge-a/up")
        #expect(FoglineTopic.sync(site: "s", node: "edge-a", .down).description == "fogline/v1/sync/s/edge-a/down")
    }

    @Test func everyTopicRoundTrips() throws {
        var topics: [FoglineTopic] = FoglineTopic.DeviceChannel.allCases.map { .device(site: "site_1", device: "dev.42", $0) }
        topics.append(.nodeStatus(site: "site_1", node: "node-A"))
        topics += FoglineTopic.SyncDirection.allCases.map { .sync(site: "site_1", node: "node-A", $0) }
        for topic in topics {
            #expect(try FoglineTopic.parse(topic.string, expectedSite: "site_1") == topic)
            #expect(try FoglineTopic.parse(topic.string, expectedSite: nil) == topic)
            #expect(topic.isValid)
            #expect(topic.site == "site_1")
        }
        #expect(Set(topics.map(\.string)).count == topics.count)
    }

    @Test func parsesTheContractExamples() throws {
        #expect(try FoglineTopic.parse("fogline/v1/greenhouse/dev/th-7/cmd/ack", expectedSite: "greenhouse") == .device(site: "greenhouse", device: "th-7", .cmdAck))
        #expect(try FoglineTopic.parse("fogline/v1/greenhouse/dev/cmd/cmd", expectedSite: nil) == .device(site: "greenhouse", device: "cmd", .cmd))
        #expect(topicRejection("fogline/v1/greenhouse/dev/node/status")?.reason == "unknown_topic")
        #expect(try FoglineTopic.parse("fogline/v1/dev/dev/dev/birth", expectedSite: nil) == .device(site: "dev", device: "dev", .birth))
        #expect(try FoglineTopic.parse("fogline/v1/node/node/node/status", expectedSite: nil) == .nodeStatus(site: "node", node: "node"))
        #expect(try FoglineTopic.parse("fogline/v1/sync/s/dev/up", expectedSite: nil) == .sync(site: "s", node: "dev", .up))
        let longest = String(repeating: "a", count: 64)
        #expect(try FoglineTopic.parse("fogline/v1/\(longest)/dev/\(longest)/birth", expectedSite: nil) == .device(site: longest, device: longest, .birth))
        #expect(try FoglineTopic.parse("fogline/v1/.../dev/a..b/birth", expectedSite: nil) == .device(site: "...", device: "a..b", .birth))
    }

    @Test(arguments: [
        "", "/", "fogline/v1/s/dev/+/telemetry", "fogline/v1/s/dev/#", "fogline/v1/+/dev/d/birth", "fogline/v1/s/dev/d/+",
        "fogline/v1//dev/d/telemetry", "fogline/v1/s/dev//telemetry", "fogline/v1/s/dev/d/telemetry/", "/fogline/v1/s/dev/d/birth",
        "fogline//v1/s/dev/d/birth", "fogline/v1/./dev/d/birth", "fogline/v1/s/dev/../birth", "fogline/v1/s/dev/./birth",
        "fogline/v1/s/dev/\(String(repeating: "d", count: 65))/birth", "fogline/v1/s p/dev/d/birth", "fogline/v1/s/dev/dé/birth",
        "$SYS/broker/uptime", "fogline/v1/s/dev/d\u{0}/birth", "fogline/v1/s/dev/d%2F/birth", "fogline/v1/s/dev/d\\x/birth",
        "fogline/v1/s/dev/d:1/birth", "fogline/v1/s/dev/d*/birth", "fogline/v2/s+/x", "fogline/v1/sync/sync/n/up",
        "fogline/v1/s/dev/d/birth\n",
    ])
    func invalidTopics(topic: String) {
        let result = topicRejection(topic)
        #expect(result?.reason == "invalid_topic", "\(topic.debugDescription): \(String(describing: result))")
    }

    @Test(arguments: [
        "fogline/v2/s/dev/d/telemetry", "fogline/v1/s/dev/d/unknown", "fogline/v1/s/dev/d", "fogline/v1/s/dev/d/cmd/nack",
        "fogline/v1/s/dev/d/telemetry/extra", "fogline/v1/s/node/n/other", "fogline/v1/s/node/n/status/x", "fogline/v1/sync/s/n/sideways",
        "fogline/v1/sync/s/n/up/x", "fogline/v1/sync/s/up", "foo/bar", "fogline", "fogline/v1", "fogline/v1/s", "fogline/v1/s/dev/d/cmd/ack/x",
        "fogline/v1/s/devices/d/birth", "fogline/v1/s/dev/d/ack", "fogline/v1/s/dev/d/cmd.ack", "Fogline/v1/s/dev/d/birth",
        "fogline/V1/s/dev/d/birth", "fogline/v1/s/dev/d/Birth", "fogline/v1/s/dev/d/replay/ack", "fogline/v1/s/node/n/birth",
        "fogline/v1/s/dev/d/status",
    ])
    func unknownTopics(topic: String) {
        let result = topicRejection(topic)
        #expect(result == .unknownTopic(topic: topic), "\(topic): \(String(describing: result))")
    }

    @Test func siteMustMatchTheExpectedSite() {
        #expect(topicRejection("fogline/v1/other/dev/d/telemetry", expectedSite: "plant")?.reason == "invalid_topic")
        #expect(topicRejection("fogline/v1/other/node/n/status", expectedSite: "plant")?.reason == "invalid_topic")
        #expect(topicRejection("fogline/v1/sync/other/n/down", expectedSite: "plant")?.reason == "invalid_topic")
        #expect(topicRejection("fogline/v1/Plant/dev/d/telemetry", expectedSite: "plant")?.reason == "invalid_topic")
        #expect(topicRejection("fogline/v1/plant/dev/d/telemetry", expectedSite: "plant") == nil)
        let description = topicRejection("fogline/v1/other/dev/d/birth", expectedSite: "plant")?.description
        #expect(description == #"topic "fogline/v1/other/dev/d/birth" is not a valid Fogline topic: it is for site "other", but this node serves site "plant"; check the device's site setting"#)
    }

    @Test func malformedSegmentsWinOverUnknownShapes() {
        #expect(topicRejection("fogline/v9/#")?.reason == "invalid_topic")
        #expect(topicRejection("x/y/z/+")?.reason == "invalid_topic")
        let description = topicRejection("fogline/v1/s/dev/+/telemetry")?.description
        #expect(description == #"topic "fogline/v1/s/dev/+/telemetry" is not a valid Fogline topic: level 5 "+" contains the MQTT wildcard `+`, which only subscriptions may use"#)
        #expect(topicRejection("fogline/v1//dev/d/birth")?.description
            == #"topic "fogline/v1//dev/d/birth" is not a valid Fogline topic: level 3 is empty"#)
    }

    @Test func subscriptionFilters() {
        #expect(FoglineTopic.deviceFilter(site: "s", channel: .telemetry) == "fogline/v1/s/dev/+/telemetry")
        #expect(FoglineTopic.deviceFilter(site: "s", channel: .cmdAck) == "fogline/v1/s/dev/+/cmd/ack")
        #expect(FoglineTopic.deviceFilter(site: "s") == "fogline/v1/s/dev/+/#")
        #expect(FoglineTopic.deviceFilter(site: "s", device: "d") == "fogline/v1/s/dev/d/#")
        #expect(FoglineTopic.deviceFilter(site: "s", device: "d", channel: .desired) == "fogline/v1/s/dev/d/desired")
        #expect(FoglineTopic.nodeStatusFilter(site: "s") == "fogline/v1/s/node/+/status")
        #expect(FoglineTopic.nodeStatusFilter(site: "s", node: "n") == "fogline/v1/s/node/n/status")
        #expect(FoglineTopic.syncFilter(direction: .up) == "fogline/v1/sync/+/+/up")
        #expect(FoglineTopic.syncFilter(site: "s", node: "n", direction: .down) == "fogline/v1/sync/s/n/down")
        #expect(FoglineTopic.sharedSubscription(group: "fogline-cloud", filter: FoglineTopic.syncFilter(direction: .up))
            == "$share/fogline-cloud/fogline/v1/sync/+/+/up")
        // A filter is not a topic: publishing to it is refused.
        #expect(topicRejection(FoglineTopic.deviceFilter(site: "s", channel: .telemetry))?.reason == "invalid_topic")
    }

    @Test func segmentNames() {
        for valid in ["a", "A-z_0.9", "...", "a..b", ".hidden", "-", "_", String(repeating: "x", count: 64)] {
            #expect(SegmentName.isValid(valid), "\(valid)")
            #expect(SegmentName.problem(with: valid) == nil, "\(valid)")
        }
        for invalid in ["", ".", "..", "+", "#", "a/b", "a b", "é", "a+", "$share", "\u{0}", String(repeating: "x", count: 65)] {
            #expect(!SegmentName.isValid(invalid), "\(invalid.debugDescription)")
        }
        #expect(SegmentName.isValid("sync"))
        #expect(!SegmentName.isValidSite("sync"))
        #expect(SegmentName.siteProblem(with: "sync")?.hasPrefix("is reserved (`fogline/v1/sync/…`") == true)
        #expect(SegmentName.siteProblem(with: "..") == SegmentName.problem(with: ".."))
        #expect(SegmentName.siteProblem(with: "plant-1") == nil)
        #expect(SegmentName.isValidSite("plant-1"))
        #expect(!SegmentName.isValidSite(".."))
        #expect(SegmentName.problem(with: "") == "is empty")
        #expect(SegmentName.problem(with: "..") == "is `..`, which reads as a path")
        #expect(SegmentName.problem(with: String(repeating: "x", count: 65)) == "is 65 bytes long, more than 64")
    }

    @Test func buildingWithBadNamesIsReportedAsInvalid() {
        #expect(!FoglineTopic.device(site: "s", device: "+", .birth).isValid)
        #expect(!FoglineTopic.device(site: "s", device: "a/b", .birth).isValid)
        #expect(!FoglineTopic.nodeStatus(site: "", node: "n").isValid)
        #expect(!FoglineTopic.sync(site: "sync", node: "n", .up).isValid)
        #expect(!FoglineTopic.device(site: "sync", device: "d", .birth).isValid)
    }

    @Test func randomValidNamesRoundTrip() throws {
        let alphabet = Array("ABCXYZabcxyz0189_.-")
        for seed in PropertySeeds.seeds(default: 200) {
            var random = SeededRandom(seed: seed)
            func name() -> String {
                while true {
                    let candidate = String((0..<random.int(in: 1...64)).map { _ in random.pick(alphabet) })
                    if SegmentName.isValidSite(candidate) { return candidate }
                }
            }
            let topic: FoglineTopic
            switch random.int(in: 0...2) {
            case 0: topic = .device(site: name(), device: name(), random.pick(FoglineTopic.DeviceChannel.allCases))
            case 1: topic = .nodeStatus(site: name(), node: name())
            default: topic = .sync(site: name(), node: name(), random.pick(FoglineTopic.SyncDirection.allCases))
            }
            let parsed = try FoglineTopic.parse(topic.string, expectedSite: topic.site)
            #expect(parsed == topic, "seed \(seed): \(topic.string)")
        }
    }

    @Test func randomTopicStringsNeverTrap() {
        let alphabet = Array("fogline/v1/syncdevnodestatus+#/.-_ aé\u{0}".unicodeScalars)
        for seed in PropertySeeds.seeds(default: 20) {
            var random = SeededRandom(seed: seed)
            for _ in 0..<100 {
                var topic = ""
                for _ in 0..<random.int(in: 0...60) { topic.unicodeScalars.append(random.pick(alphabet)) }
                if let result = topicRejection(topic) {
                    #expect(["invalid_topic", "unknown_topic"].contains(result.reason), "seed \(seed): \(topic.debugDescription)")
                }
            }
        }
    }

    @Test func channelsKnowTheirPayloadsAndDirection() throws {
        let examples: [FoglineTopic.DeviceChannel: String] = [
            .birth: #"{"profile":"p"}"#, .death: "{}", .telemetry: #"{"seq":1,"values":{}}"#, .reported: #"{"fields":{}}"#,
            .desired: #"{"fields":{},"hlc":"h"}"#, .cmd: #"{"id":"c","name":"n","args":{},"fence":1}"#,
            .cmdAck: #"{"id":"c","status":"ok"}"#, .replay: #"{"from":1,"to":2}"#,
        ]
        for channel in FoglineTopic.DeviceChannel.allCases {
            let example = try #require(examples[channel])
            let payload = try channel.payloadType.decode(example)
            #expect(type(of: payload).kind == channel.rawValue)
        }
        #expect(FoglineTopic.DeviceChannel.allCases.filter(\.isFromDevice) == [.birth, .death, .telemetry, .reported, .cmdAck])
    }
}
