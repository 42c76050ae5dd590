/// The rule for names carried inside payloads: metric names, twin field names, device
/// profiles, command names and ids.
///
/// A name is non-empty and at most ``maxBytes`` bytes of UTF-8; any characters are allowed
/// (a device may name a field `pump.speed` or `温度`). A payload with a name outside the rule
/// is rejected as `out_of_range`.
public enum PayloadName {
    /// The longest name accepted, in UTF-8 bytes.
    public static let maxBytes = 128

    /// Whether `name` is a valid payload name.
    public static func isValid(_ name: String) -> Bool {
        let byteCount = name.utf8.count
        return byteCount >= 1 && byteCount <= maxBytes
    }

    /// The requirement, for messages.
    static let requirement = "a non-empty name of at most \(maxBytes) bytes"

    /// What is wrong with an invalid name, for messages.
    static func describeInvalid(_ name: String) -> String {
        name.isEmpty ? "an empty string" : "a name of \(name.utf8.count) bytes"
    }
}
