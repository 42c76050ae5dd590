import Foundation

/// The text of a configuration file (named by `--config` or another option).
public enum ConfigFile {
    /// The file's text, or `nil` when no file was given (flags alone).
    /// - Parameters:
    ///   - flag: the option that named the file, for the error (`--config`, `--devices`, …).
    ///   - kind: what the file is, for the error.
    public static func text(at path: String?, flag: String = "--config", kind: String = "configuration file") throws(ConfigErrors) -> String? {
        guard let path else { return nil }
        return try text(of: path, flag: flag, kind: kind)
    }

    /// The text of the file at `path`, named by the option `flag` (nil when the path comes from
    /// elsewhere, e.g. a provisioning directory).
    public static func text(of path: String, flag: String?, kind: String) throws(ConfigErrors) -> String {
        do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
            let check = flag.map { "the path given to \($0)" } ?? "the path"
            throw ConfigErrors(problems: [ConfigProblem(
                file: path, line: 0,
                message: "cannot read the \(kind) \(path) (\(error.localizedDescription)); check \(check) and its permissions")])
        }
    }
}
