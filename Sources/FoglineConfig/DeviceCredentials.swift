import Foundation

/// The device secrets file that `fogline-edge provision` writes (mode 0600) for the operator to
/// hand to devices, and `fogline-sim --credentials` reads: one `USERNAME PASSWORD` line per
/// device (the MQTT username is the device id), `#` comments and blank lines ignored.
public struct DeviceCredentials: Sendable, Equatable {
    /// Password by username.
    public var passwords: [String: String]

    public init(passwords: [String: String] = [:]) { self.passwords = passwords }

    /// Parses the file's text; every malformed line is reported as `FILE:LINE: message`.
    public static func parse(_ text: String, file: String) throws(ConfigErrors) -> DeviceCredentials {
        var passwords: [String: String] = [:]
        var problems: [ConfigProblem] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 2 else {
                problems.append(ConfigProblem(
                    file: file, line: offset + 1,
                    message: "expected `USERNAME PASSWORD` (two fields), found \(fields.count); regenerate the file with `fogline-edge provision`"))
                continue
            }
            let username = String(fields[0])
            guard passwords[username] == nil else {
                problems.append(ConfigProblem(file: file, line: offset + 1, message: "\(username) is listed twice; keep one line per device"))
                continue
            }
            passwords[username] = String(fields[1])
        }
        guard problems.isEmpty else { throw ConfigErrors(problems: problems) }
        return DeviceCredentials(passwords: passwords)
    }

    /// Reads and parses the file at `path`.
    public static func read(path: String) throws(ConfigErrors) -> DeviceCredentials {
        try parse(ConfigFile.text(of: path, flag: nil, kind: "credentials file"), file: path)
    }

    /// The file's text: a header comment, then one line per username, sorted.
    public var rendered: String {
        var text = "# Device MQTT credentials (USERNAME PASSWORD), written by `fogline-edge provision`. Secret: keep it 0600.\n"
        for username in passwords.keys.sorted() { text += "\(username) \(passwords[username]!)\n" }
        return text
    }
}
