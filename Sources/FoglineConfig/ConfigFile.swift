import Foundation

/// The text of a configuration file named by `--config`.
public enum ConfigFile {
    /// The file's text, or `nil` when no file was given (flags alone).
    public static func text(at path: String?) throws(ConfigErrors) -> String? {
        guard let path else { return nil }
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw ConfigErrors(problems: [ConfigProblem(
                file: path, line: 0,
                message: "cannot read the configuration file \(path) (\(error.localizedDescription)); check the path given to --config and its permissions")])
        }
    }
}
