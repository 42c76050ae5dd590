/// The rule for the `{site}`, `{device}` and `{node}` segments of Fogline topics, shared
/// with configuration validation.
///
/// A segment is 1 to 64 characters from `A–Z a–z 0–9 _ . -`. Two names that fit the
/// pattern are still refused because they read as paths: `.` and `..`. Wildcards (`+`,
/// `#`), `/`, spaces, `$` and non-ASCII characters are outside the pattern. A site may
/// also not be named `sync`, which would collide with the edge ↔ cloud topics
/// `fogline/v1/sync/…`.
public enum SegmentName {
    /// The longest segment, in characters (all ASCII, so also bytes).
    public static let maxLength = 64

    /// Names that fit the pattern but cannot name a site.
    public static let reservedSiteNames: Set<String> = ["sync"]

    /// Whether `name` is a valid site, device or node segment.
    public static func isValid(_ name: some StringProtocol) -> Bool {
        problem(with: name) == nil
    }

    /// Whether `name` is a valid site segment: a valid segment that is not reserved.
    public static func isValidSite(_ name: some StringProtocol) -> Bool {
        siteProblem(with: name) == nil
    }

    /// ``problem(with:)`` for a site: also says when the name is reserved.
    public static func siteProblem(with name: some StringProtocol) -> String? {
        if let problem = problem(with: name) { return problem }
        if reservedSiteNames.contains(String(name)) {
            return "is reserved (`fogline/v1/\(name)/…` are Fogline's own topics); choose another"
        }
        return nil
    }

    /// What is wrong with `name` as a segment, as a phrase that completes "the name …"
    /// (for configuration errors), or `nil` if it is valid.
    public static func problem(with name: some StringProtocol) -> String? {
        problem(utf8: name.utf8)
    }

    /// ``problem(with:)`` on the UTF-8 bytes of a name.
    static func problem(utf8 bytes: some Collection<UInt8>) -> String? {
        if bytes.isEmpty { return "is empty" }
        if bytes.count > maxLength { return "is \(bytes.count) bytes long, more than \(maxLength)" }
        var onlyDots = true
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "."):
                continue
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                onlyDots = false
            case UInt8(ascii: "+"), UInt8(ascii: "#"):
                return "contains the MQTT wildcard `\(Character(Unicode.Scalar(byte)))`, which only subscriptions may use"
            default:
                return "contains a character other than letters, digits, `_`, `.` and `-`"
            }
        }
        if onlyDots, bytes.count <= 2 { return "is `\(String(repeating: ".", count: bytes.count))`, which reads as a path" }
        return nil
    }
}
