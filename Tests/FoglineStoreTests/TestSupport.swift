import FoglineCore
import FoglineStore
import Foundation

/// A fresh directory under the system temporary directory, removed with everything in it when
/// the value is released (at the end of the test that made it).
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("fogline-store-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

extension EdgeStore {
    /// A store in a new temporary directory; keep the directory alive as long as the store.
    static func temporary() throws -> (EdgeStore, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        return (try EdgeStore(path: directory.file("edge.sqlite")), directory)
    }
}

/// A telemetry delta for `device`/`seq` written by `state`'s node `node`.
func telemetryDelta(
    _ state: inout SiteState, device: String, epoch: UInt64 = 1, seq: UInt64, node: NodeID, milliseconds: UInt64,
    keepRaw: Bool = true
) -> SiteDelta {
    state.recordTelemetry(
        device: device, epoch: epoch, seq: seq, deviceTime: Int64(milliseconds),
        values: [RawTelemetry.Metric(name: "temp", value: Double(seq) / 10), RawTelemetry.Metric(name: "rh", value: 40)],
        stamp: HLCTimestamp(milliseconds: milliseconds, counter: 0, node: node), keepRaw: keepRaw)
}

/// The names of the parts in which two site states differ (empty when they are equal): a short
/// failure message instead of two whole states.
func differingParts(_ lhs: SiteState, _ rhs: SiteState) -> [String] {
    var parts: [String] = []
    if lhs.context != rhs.context { parts.append("context \(lhs.context) vs \(rhs.context)") }
    if lhs.registry != rhs.registry { parts.append("registry") }
    if lhs.presence != rhs.presence { parts.append("presence") }
    if lhs.reported != rhs.reported { parts.append("reported") }
    if lhs.desired != rhs.desired { parts.append("desired") }
    if lhs.counters != rhs.counters { parts.append("counters") }
    if lhs.alarms != rhs.alarms { parts.append("alarms \(lhs.alarms.elements.sorted()) vs \(rhs.alarms.elements.sorted())") }
    if lhs.rollups != rhs.rollups { parts.append("rollups") }
    if lhs.raw != rhs.raw { parts.append("raw (\(lhs.raw.readings.count) vs \(rhs.raw.readings.count) readings)") }
    if parts.isEmpty && lhs != rhs { parts.append("SiteState == differs although every part is equal") }
    return parts
}
