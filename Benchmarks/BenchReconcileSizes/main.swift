// fogline-bench-reconcile-sizes: the byte anchors of scripts/bench-reconcile. Reads an edge's
// store and the aggregator's SQLite store (copies taken while the uplink was cut) and prints, as
// one JSON object, what shipping the edge's whole state and exactly what the aggregator lacked
// would cost, each encoded as the uplink encodes a batch (SiteDeltaCodec, deflated) in one piece.
//
// Usage: fogline-bench-reconcile-sizes EDGE_SQLITE CLOUD_SQLITE SITE

import FoglineCloud
import FoglineCore
import FoglineStore
import FoglineWire
import Foundation

func encodedBytes(_ delta: SiteDelta) -> Int {
    SyncBatchCodec.encode(delta, batchID: 0, maxPartBytes: Int(Int32.max)).reduce(0) { $0 + $1.payload.count }
}

func main() async throws {
    let arguments = CommandLine.arguments
    guard arguments.count == 4 else {
        FileHandle.standardError.write(Data("usage: fogline-bench-reconcile-sizes EDGE_SQLITE CLOUD_SQLITE SITE\n".utf8))
        exit(2)
    }
    let state = try EdgeStore(path: arguments[1]).loadSiteState()
    let cloud = try SQLiteCloudStore(path: arguments[2])
    let held = try await cloud.summary(site: arguments[3])
    let changed = state.delta(since: held)
    var readings = 0
    state.raw.forEachDot { _ in readings += 1 }
    let figures: [String: Int] = [
        "full_state_bytes": encodedBytes(state.asDelta),
        "changed_state_bytes": changed.map(encodedBytes) ?? 0,
        "raw_readings_at_edge": readings,
        "dots_at_edge": Int(state.context.dotCount),
        "dots_at_aggregator": Int(held.context.dotCount),
    ]
    let json = figures.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
    print("{\(json)}")
}

try await main()
