import Foundation

/// The text of a configuration file named by `--config`.
public enum ConfigFile {
    /// The file's text, or `nil` when no file was given (flags alone).
    /// - Parameters:
    ///   - flag: the option that named the file, for the error (`--config`, `--devices`, …).
    ///   - kind: what the file is, for the error.
    public static func text(at path: String?, flag: String = "--config", kind: String = "configuration file") throws(ConfigErrors) -> String? {
        guard let path else { return nil }
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigErrors(problems: [ConfigProblem(
                file: path, line: 0,
                message: "cannot read the \(kind) \(path) (\(error.localizedDescription)); check the path given to \(flag) and its permissions")])
        }
    }
}
