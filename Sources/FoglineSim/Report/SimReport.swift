import Foundation

/// What a simulation run did, per device and per profile: what tests and the edge's
/// counters are compared against. `Codable`; ``json()`` writes it with sorted keys, so the
/// same run always gives the same text.
public struct SimReport: Sendable, Hashable, Codable {
    /// The site of the run.
    public var site: String
    /// The seed of the run.
    public var seed: UInt64
    /// The faults injected, as `--fault` options (`none` for none).
    public var faults: String
    /// Virtual milliseconds from start to the end of the run (or to the latest event, if
    /// it has not ended).
    public var elapsedMillis: Int64
    /// One entry per device, in device order.
    public var devices: [DeviceReport]
    /// One entry per profile, in the order given.
    public var profiles: [ProfileReport]

    /// A report with the given contents (``Simulation/report()`` builds the real one).
    public init(site: String, seed: UInt64, faults: String, elapsedMillis: Int64, devices: [DeviceReport], profiles: [ProfileReport]) {
        self.site = site
        self.seed = seed
        self.faults = faults
        self.elapsedMillis = elapsedMillis
        self.devices = devices
        self.profiles = profiles
    }

    /// The report as JSON with sorted keys (pretty-printed unless `compact`).
    public func json(compact: Bool = false) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = compact ? [.sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(self), as: UTF8.self)
        } catch {
            preconditionFailure("a SimReport holds only strings and integers, which always encode: \(error)")
        }
    }
}
