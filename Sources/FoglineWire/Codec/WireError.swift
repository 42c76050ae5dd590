/// The wire schema version this build writes and the newest one it reads (`fogline.proto`).
public enum WireSchema {
    /// Written into `schema_version` of every frame and stored delta. Frames with a higher
    /// version are rejected with ``WireError/unsupportedVersion(found:newestSupported:)``.
    public static let currentVersion: UInt32 = 1
}

/// Why bytes from the wire were not decoded. Decoding never crashes on hostile input: it either
/// returns a validated value or throws one of these.
///
/// ``reason`` is a short, stable identifier for metrics labels and logs
/// (`fogline_rejected_frames_total{reason=…}`); ``description`` is a sentence for people.
public enum WireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not a valid protobuf encoding of the expected message (truncated, bad
    /// varint or tag, wrong wire type, invalid UTF-8 in a string, nesting too deep, …).
    case malformedProtobuf(detail: String)
    /// The frame's `schema_version` is 0 (missing) or newer than this build understands.
    case unsupportedVersion(found: UInt32, newestSupported: UInt32)
    /// The input is bigger than a configured ``DecodeLimits`` allows.
    case limitExceeded(what: String, limit: Int)
    /// The message is well-formed protobuf but a value in it is not acceptable (an index out of
    /// range, a dot counter of 0, a non-finite number, columns of mismatched lengths, …).
    case invalidValue(what: String)
    /// A field the receiver cannot do without is absent.
    case missingField(String)

    /// A stable, machine-readable identifier of the kind of error.
    public var reason: String {
        switch self {
        case .malformedProtobuf: "malformed_protobuf"
        case .unsupportedVersion: "unsupported_version"
        case .limitExceeded: "limit_exceeded"
        case .invalidValue: "invalid_value"
        case .missingField: "missing_field"
        }
    }

    public var description: String {
        switch self {
        case .malformedProtobuf(let detail):
            "The frame is not valid protobuf for the Fogline wire schema (\(detail)); "
                + "it was dropped. Check that the sender runs a compatible Fogline build and that the "
                + "transport does not truncate or alter frames."
        case .unsupportedVersion(let found, let newest):
            if found == 0 {
                "The frame carries no schema version; it was dropped. "
                    + "Only frames written by a Fogline build (schema version 1 to \(newest)) are accepted."
            } else {
                "The frame uses wire schema version \(found), but this build understands versions up to "
                    + "\(newest); it was dropped. Upgrade this node to the sender's Fogline version."
            }
        case .limitExceeded(let what, let limit):
            "The frame exceeds the decoding limit for \(what) (at most \(limit)); it was dropped. "
                + "If the sender is legitimate, raise the limit in DecodeLimits (or the node's config)."
        case .invalidValue(let what):
            "The frame holds an invalid value: \(what); it was dropped. "
                + "The sender is faulty or the frame was altered in transit."
        case .missingField(let field):
            "The frame lacks the required field `\(field)`; it was dropped. "
                + "The sender is faulty or runs an incompatible Fogline version."
        }
    }
}

/// Bounds on what one decode may produce, so a small hostile frame cannot make the receiver
/// allocate without limit (run-length columns expand: a few bytes can claim 2^40 values).
public struct DecodeLimits: Sendable, Hashable {
    /// Largest accepted encoded frame or delta, in bytes. Default 16 MiB.
    public var maxBytes: Int
    /// Most entries (fields, registers, cells, alarms, readings and their values, context
    /// entries and dots) one decoded delta or frame may hold in total. Default 2^20.
    public var maxEntries: Int
    /// Most values one run-length column may expand to. Default 2^20.
    public var maxColumnLength: Int

    public init(maxBytes: Int = 16 << 20, maxEntries: Int = 1 << 20, maxColumnLength: Int = 1 << 20) {
        self.maxBytes = maxBytes
        self.maxEntries = maxEntries
        self.maxColumnLength = maxColumnLength
    }
}

/// Counts what a decode produces against ``DecodeLimits/maxEntries``.
struct EntryBudget {
    let limits: DecodeLimits
    private(set) var remaining: Int

    init(_ limits: DecodeLimits) {
        self.limits = limits
        self.remaining = max(0, limits.maxEntries)
    }

    /// Takes `count` entries from the budget before anything is allocated for them.
    mutating func take(_ count: Int, _ what: String) throws(WireError) {
        guard count >= 0, count <= remaining else {
            throw .limitExceeded(what: "entries in one frame (\(what))", limit: limits.maxEntries)
        }
        remaining -= count
    }
}
