/// A Fogline MQTT topic, parsed or to be built.
///
/// The topics (DESIGN.md, "MQTT contract with devices" and "Edge ↔ cloud"):
///
/// - `fogline/v1/{site}/dev/{device}/{birth|death|telemetry|reported|desired|cmd|cmd/ack|replay}`
/// - `fogline/v1/{site}/node/{node}/status`
/// - `fogline/v1/sync/{site}/{node}/{up|down}`
///
/// `{site}`, `{device}` and `{node}` follow ``SegmentName`` (a site may not be `sync`).
///
/// ```swift
/// let topic = FoglineTopic.device(site: "plant-1", device: "th-7", .telemetry)
/// topic.string  // "fogline/v1/plant-1/dev/th-7/telemetry"
/// ```
///
/// Building does not validate; check names with ``SegmentName`` when they are configured,
/// or use ``isValid``.
public enum FoglineTopic: Hashable, Sendable {
    /// A device topic.
    case device(site: String, device: String, DeviceChannel)
    /// An edge node's retained status (and will).
    case nodeStatus(site: String, node: String)
    /// The edge ↔ cloud sync stream of one node.
    case sync(site: String, node: String, SyncDirection)

    /// The topic kinds under `fogline/v1/{site}/dev/{device}/`.
    public enum DeviceChannel: String, CaseIterable, Hashable, Sendable {
        /// Device → edge: ``BirthPayload``.
        case birth
        /// The device's will: ``DeathPayload``.
        case death
        /// Device → edge: ``TelemetryPayload``.
        case telemetry
        /// Device → edge: ``ReportedPayload``.
        case reported
        /// Edge → device, retained: ``DesiredPayload``.
        case desired
        /// Edge → device: ``CommandPayload``.
        case cmd
        /// Device → edge: ``CommandAckPayload``. Two topic levels: `cmd/ack`.
        case cmdAck = "cmd/ack"
        /// Edge → device: ``ReplayRequestPayload``.
        case replay

        /// Whether devices publish on this channel (the edge subscribes to it); `false`
        /// for the channels the edge publishes to devices.
        public var isFromDevice: Bool {
            switch self {
            case .birth, .death, .telemetry, .reported, .cmdAck: true
            case .desired, .cmd, .replay: false
            }
        }

        /// The payload type carried on this channel.
        public var payloadType: any DevicePayload.Type {
            switch self {
            case .birth: BirthPayload.self
            case .death: DeathPayload.self
            case .telemetry: TelemetryPayload.self
            case .reported: ReportedPayload.self
            case .desired: DesiredPayload.self
            case .cmd: CommandPayload.self
            case .cmdAck: CommandAckPayload.self
            case .replay: ReplayRequestPayload.self
            }
        }
    }

    /// The direction of a sync stream.
    public enum SyncDirection: String, CaseIterable, Hashable, Sendable {
        /// Edge → cloud.
        case up
        /// Cloud → edge.
        case down
    }

    /// The first two levels of every Fogline topic.
    public static let root = "fogline/v1"

    /// The site the topic belongs to.
    public var site: String {
        switch self {
        case .device(let site, _, _), .nodeStatus(let site, _), .sync(let site, _, _): site
        }
    }

    /// The topic as published on MQTT.
    public var string: String {
        switch self {
        case .device(let site, let device, let channel):
            "\(Self.root)/\(site)/dev/\(device)/\(channel.rawValue)"
        case .nodeStatus(let site, let node):
            "\(Self.root)/\(site)/node/\(node)/status"
        case .sync(let site, let node, let direction):
            "\(Self.root)/sync/\(site)/\(node)/\(direction.rawValue)"
        }
    }

    /// Whether every name in the topic is valid, so that ``parse(_:expectedSite:)`` would
    /// read ``string`` back as this topic.
    public var isValid: Bool {
        (try? Self.parse(string, expectedSite: nil)) == self
    }

    // MARK: - Parsing

    /// Parses a topic a message arrived on.
    ///
    /// - Parameters:
    ///   - topic: the MQTT topic name.
    ///   - expectedSite: this node's site; a topic for another site is rejected. `nil`
    ///     accepts any site (the cloud aggregator).
    /// - Throws: `invalid_topic` for an empty, over-long or malformed segment (wildcards,
    ///   characters outside `[A-Za-z0-9_.-]`, `.` or `..`), a reserved site name, or a site
    ///   other than `expectedSite`; `unknown_topic` for a well-formed topic that is not one
    ///   of the Fogline topics (including other versions than `v1`).
    public static func parse(_ topic: String, expectedSite: String?) throws(PayloadRejection) -> FoglineTopic {
        var contiguous = topic
        let result = contiguous.withUTF8 { bytes in
            Result { () throws(PayloadRejection) in try parse(utf8: bytes, topic: topic, expectedSite: expectedSite) }
        }
        return try result.get()
    }

    /// ``parse(_:expectedSite:)`` on the topic's UTF-8 bytes.
    private static func parse(
        utf8 bytes: UnsafeBufferPointer<UInt8>,
        topic: String,
        expectedSite: String?
    ) throws(PayloadRejection) -> FoglineTopic {
        if bytes.isEmpty { throw .invalidTopic(topic: topic, problem: "the topic is empty") }
        // Check every level; keep the bounds of the first eight (Fogline topics have six or seven).
        var levels: [Range<Int>] = []
        levels.reserveCapacity(8)
        var levelCount = 0
        var levelStart = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: "/") {
            let level = UnsafeBufferPointer(rebasing: bytes[levelStart..<index])
            if let problem = SegmentName.problem(utf8: level) {
                let shown = level.isEmpty ? "" : " \(PayloadRejection.quoted(String(decoding: level, as: UTF8.self)))"
                throw .invalidTopic(topic: topic, problem: "level \(levelCount + 1)\(shown) \(problem)")
            }
            if levels.count < 8 { levels.append(levelStart..<index) }
            levelCount += 1
            levelStart = index + 1
        }

        func level(_ index: Int, is word: String) -> Bool {
            bytes[levels[index]].elementsEqual(word.utf8)
        }
        func name(_ index: Int) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: bytes[levels[index]]), as: UTF8.self)
        }

        guard levelCount == 6 || levelCount == 7, level(0, is: "fogline"), level(1, is: "v1") else {
            throw .unknownTopic(topic: topic)
        }
        let parsed: FoglineTopic
        if level(2, is: "sync") {
            guard levelCount == 6, let direction = SyncDirection.allCases.first(where: { level(5, is: $0.rawValue) }) else {
                throw .unknownTopic(topic: topic)
            }
            parsed = .sync(site: name(3), node: name(4), direction)
        } else if level(3, is: "dev") {
            let channel: DeviceChannel?
            if levelCount == 7 {
                channel = level(5, is: "cmd") && level(6, is: "ack") ? .cmdAck : nil
            } else {
                channel = DeviceChannel.allCases.first { $0 != .cmdAck && level(5, is: $0.rawValue) }
            }
            guard let channel else { throw .unknownTopic(topic: topic) }
            parsed = .device(site: name(2), device: name(4), channel)
        } else if level(3, is: "node"), levelCount == 6, level(5, is: "status") {
            parsed = .nodeStatus(site: name(2), node: name(4))
        } else {
            throw .unknownTopic(topic: topic)
        }

        let site = parsed.site
        if SegmentName.reservedSiteNames.contains(site) {
            throw .invalidTopic(topic: topic, problem: "the site name \(PayloadRejection.quoted(site)) is reserved")
        }
        if let expectedSite, site != expectedSite {
            throw .invalidTopic(
                topic: topic,
                problem: "it is for site \(PayloadRejection.quoted(site)), but this node serves site \(PayloadRejection.quoted(expectedSite)); check the device's site setting"
            )
        }
        return parsed
    }

    // MARK: - Subscription filters

    /// A filter for device topics: `fogline/v1/{site}/dev/{device or +}/{channel or #}`.
    /// `deviceFilter(site: "s", channel: .telemetry)` is `fogline/v1/s/dev/+/telemetry`.
    public static func deviceFilter(site: String, device: String? = nil, channel: DeviceChannel? = nil) -> String {
        "\(root)/\(site)/dev/\(device ?? "+")/\(channel?.rawValue ?? "#")"
    }

    /// A filter for node status topics: `fogline/v1/{site}/node/{node or +}/status`.
    public static func nodeStatusFilter(site: String, node: String? = nil) -> String {
        "\(root)/\(site)/node/\(node ?? "+")/status"
    }

    /// A filter for sync topics: `fogline/v1/sync/{site or +}/{node or +}/{direction}`.
    /// The cloud subscribes to `syncFilter(direction: .up)`; a node to its own `down`.
    public static func syncFilter(site: String? = nil, node: String? = nil, direction: SyncDirection) -> String {
        "\(root)/sync/\(site ?? "+")/\(node ?? "+")/\(direction.rawValue)"
    }

    /// An MQTT 5 shared subscription: `$share/{group}/{filter}`, so that several
    /// subscribers in `group` split the messages (the scaled-out cloud aggregator).
    public static func sharedSubscription(group: String, filter: String) -> String {
        "$share/\(group)/\(filter)"
    }
}

extension FoglineTopic: CustomStringConvertible {
    /// The topic string.
    public var description: String { string }
}
