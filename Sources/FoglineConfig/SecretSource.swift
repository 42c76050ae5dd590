import Foundation

/// Where a secret (a broker password, a site key, a signing key, an API token) comes from: a file
/// named in the configuration or an environment variable — never a command-line argument, which
/// any user can read in `ps` and `/proc/PID/cmdline`. The configuration holds only the source;
/// the value is read when it is needed.
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    /// A file: its first line (passwords, tokens, keys in text) or its bytes (the site key).
    case file(String)
    /// An environment variable, e.g. `FOGLINE_BROKER_PASSWORD` (systemd: `EnvironmentFile=`).
    case environment(String)

    /// The variable `variable` when it is set and not empty, else the file (if one is named).
    public static func resolve(file: String?, variable: String, environment: [String: String]) -> SecretSource? {
        if let value = environment[variable], !value.isEmpty { return .environment(variable) }
        return file.map(SecretSource.file)
    }

    public var description: String {
        switch self {
        case .file(let path): "the file \(path)"
        case .environment(let variable): "the environment variable \(variable)"
        }
    }

    /// The secret as text: a file's first line, or the variable's value, without surrounding
    /// whitespace. `environment` defaults to the process's.
    public func text(environment: [String: String]? = nil) throws(SecretError) -> String {
        let text: String
        switch self {
        case .file(let path):
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw SecretError(source: self, problem: "it cannot be read (\(error.localizedDescription)); check the path and that this user may read it")
            }
            return String(text.split(whereSeparator: \.isNewline).first ?? "").trimmingCharacters(in: .whitespaces)
        case .environment(let variable):
            guard let value = (environment ?? ProcessInfo.processInfo.environment)[variable] else { throw SecretError(source: self, problem: "it is not set") }
            return value.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The secret as bytes: a file's whole contents (e.g. 32 random bytes), or the variable's
    /// value as UTF-8 (e.g. 64 hex digits).
    public func bytes(environment: [String: String]? = nil) throws(SecretError) -> [UInt8] {
        switch self {
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SecretError(source: self, problem: "it cannot be read; check the path and that this user may read it")
            }
            return Array(data)
        case .environment:
            return Array(try text(environment: environment).utf8)
        }
    }
}

/// A secret that could not be read, saying where it was looked for and what to do.
public struct SecretError: Error, Sendable, Equatable, CustomStringConvertible {
    public var source: SecretSource
    public var problem: String

    public init(source: SecretSource, problem: String) {
        self.source = source
        self.problem = problem
    }

    public var description: String { "Cannot read a secret from \(source): \(problem)." }
}
