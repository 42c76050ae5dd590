/// A problem in a device profile file, located as precisely as the file allows.
///
/// Its ``description`` reads `FILE:LINE: key `path`: message`, the form `check-config`
/// uses, so editors can jump to the line.
public struct ProfileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The profile file, as given to ``Profile/load(path:)`` (or the name given to
    /// ``Profile/parse(yaml:file:)``).
    public var file: String
    /// The 1-based line of the offending value or key, when the YAML parser knows it.
    public var line: Int?
    /// The path of the offending key: `rate_hz`, `metrics[1].sine.period_s`,
    /// `commands.set_position.position.arg`; empty for the file as a whole.
    public var key: String
    /// What is wrong and what to do, as a sentence.
    public var message: String

    /// An error at `file:line` about `key`.
    public init(file: String, line: Int?, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `FILE:LINE: key `path`: message` (the line and key when known).
    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(location): \(message)" : "\(location): key `\(key)`: \(message)"
    }
}
