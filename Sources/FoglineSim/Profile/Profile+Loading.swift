import FoglineCore
import FoglineWire
import Yams

import Foundation

extension Profile {
    /// The largest telemetry rate a profile may ask for, per device.
    public static let maxRateHz = 1_000.0
    /// The largest replay buffer a profile may ask for, in readings.
    public static let maxReplayBufferSize = 100_000

    /// Reads and checks the profile in the YAML file at `path`.
    ///
    /// - Throws: ``ProfileError`` naming the file, the line (when known) and the key, for an
    ///   unreadable file, invalid YAML, a missing, unknown or repeated key, a value of the
    ///   wrong type or out of range, or a reference to a reported field that is not declared.
    public static func load(path: String) throws(ProfileError) -> Profile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ProfileError(
                file: path, line: nil, key: "",
                message: "cannot read the profile file (\(error.localizedDescription)); check the path given to --profile"
            )
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ProfileError(file: path, line: nil, key: "", message: "the file is not UTF-8 text; save it as UTF-8")
        }
        return try parse(yaml: text, file: path)
    }

    /// Reads and checks a profile from YAML text; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(ProfileError) -> Profile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ProfileYAMLReader.error(from: error, file: file)
        } catch {
            throw ProfileError(file: file, line: nil, key: "", message: "the file is not valid YAML: \(error)")
        }
        guard let root else {
            throw ProfileError(file: file, line: nil, key: "", message: "the file is empty; a profile needs at least kind, firmware, rate_hz and metrics")
        }
        return try ProfileYAMLReader(file: file).profile(from: root)
    }
}
