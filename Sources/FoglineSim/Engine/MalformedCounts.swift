/// Malformed messages by variant (``MalformedVariant``). Encoded with the variants' wire
/// names (`invalid_json`, …) as keys.
public struct MalformedCounts: Sendable, Hashable, Codable {
    /// ``MalformedVariant/invalidJSON`` messages.
    public var invalidJSON = 0
    /// ``MalformedVariant/invalidUTF8`` messages.
    public var invalidUTF8 = 0
    /// ``MalformedVariant/wrongType`` messages.
    public var wrongType = 0
    /// ``MalformedVariant/oversized`` messages.
    public var oversized = 0
    /// ``MalformedVariant/seqBackwards`` messages.
    public var seqBackwards = 0
    /// ``MalformedVariant/invalidTopic`` messages.
    public var invalidTopic = 0

    /// No messages.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case invalidJSON = "invalid_json"
        case invalidUTF8 = "invalid_utf8"
        case wrongType = "wrong_type"
        case oversized
        case seqBackwards = "seq_backwards"
        case invalidTopic = "invalid_topic"
    }

    /// All malformed messages.
    public var total: Int { invalidJSON + invalidUTF8 + wrongType + oversized + seqBackwards + invalidTopic }

    /// The count of one variant.
    public subscript(variant: MalformedVariant) -> Int {
        get {
            switch variant {
            case .invalidJSON: invalidJSON
            case .invalidUTF8: invalidUTF8
            case .wrongType: wrongType
            case .oversized: oversized
            case .seqBackwards: seqBackwards
            case .invalidTopic: invalidTopic
            }
        }
        set {
            switch variant {
            case .invalidJSON: invalidJSON = newValue
            case .invalidUTF8: invalidUTF8 = newValue
            case .wrongType: wrongType = newValue
            case .oversized: oversized = newValue
            case .seqBackwards: seqBackwards = newValue
            case .invalidTopic: invalidTopic = newValue
            }
        }
    }

    /// Adds another set of counts.
    public mutating func add(_ other: MalformedCounts) {
        for variant in MalformedVariant.allCases { self[variant] += other[variant] }
    }
}
