/// The bad messages of the `malformed` fault. Each one is chosen at random (from the
/// device's fault stream, so deterministically) and is sent in addition to the reading,
/// without using up a `seq`.
public enum MalformedVariant: String, Sendable, Hashable, CaseIterable, Codable {
    /// A telemetry payload cut in half: not JSON. Strict decoding: `invalid_json`.
    case invalidJSON = "invalid_json"
    /// A telemetry payload whose metric name contains the byte 0xFF. Strict decoding: `invalid_utf8`.
    case invalidUTF8 = "invalid_utf8"
    /// A telemetry payload with `seq` as a string (`"seq":"12"`). Strict decoding: `wrong_type`.
    case wrongType = "wrong_type"
    /// A valid telemetry payload padded past 64 KiB. Strict decoding: `oversized`.
    case oversized
    /// A well-formed reading whose `seq` is the device's previous published `seq` (below
    /// the latest, without a birth in between), with fresh values. It decodes; the edge
    /// must refuse it by `seq` (as going backwards, or as a duplicate of a reading it has).
    /// Its seq was published, never withheld, so it can never pass for a gap being filled.
    case seqBackwards = "seq_backwards"
    /// A valid reading on a topic whose device segment breaks the segment rule (`bad device`,
    /// `dev!ce`, `..`, 65 characters). Topic parsing: `invalid_topic`. (Not `+` or `#`:
    /// MQTT forbids wildcards in a published topic, so libmosquitto would refuse to send it.)
    case invalidTopic = "invalid_topic"

    /// The ``FoglineWire/PayloadRejection/reason`` a strict edge records for it; `nil` for
    /// ``seqBackwards``, which only the edge's sequence check can refuse.
    public var expectedRejectionReason: String? {
        switch self {
        case .seqBackwards: nil
        default: rawValue
        }
    }
}
