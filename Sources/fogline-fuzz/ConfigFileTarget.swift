import FoglineEdge
import FoglineSim

/// Configuration files as `fogline-edge check-config` and `fogline-sim --profile` read them:
/// the input is YAML text (invalid UTF-8 is replaced, as a text reader would), read as an edge
/// configuration and as a device profile. Every problem must come back as an error, never a trap.
enum ConfigFileTarget {
    static func run(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        _ = try? EdgeConfiguration.load(text: text, file: "fuzz.yaml")
        _ = try? Profile.parse(yaml: text, file: "fuzz.yaml")
    }
}
