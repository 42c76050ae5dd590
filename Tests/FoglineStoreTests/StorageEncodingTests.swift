import FoglineCore
import FoglineStore
import Foundation
import Testing

/// The encodings shared by the edge's store and the aggregator's stores.
@Suite("Storage encodings")
struct StorageEncodingTests {
    @Test("metrics blobs round-trip bit for bit and reject damage")
    func metricsBlob() {
        let metrics = [
            RawTelemetry.Metric(name: "temp", value: 21.5), RawTelemetry.Metric(name: "Größe", value: .nan),
            RawTelemetry.Metric(name: "", value: -.infinity),
        ]
        let decoded = MetricsBlob.decode(MetricsBlob.encode(metrics))
        #expect(decoded?.map(\.name) == metrics.map(\.name))
        #expect(decoded?.map(\.value.bitPattern) == metrics.map(\.value.bitPattern))
        #expect(MetricsBlob.decode(MetricsBlob.encode(metrics).dropLast()) == nil)
        #expect(MetricsBlob.decode(Data([2, 0])) == nil)
    }

    @Test("order-preserving integers compare like the unsigned originals")
    func sortable() {
        let values: [UInt64] = [0, 1, 1 << 62, (1 << 63) - 1, 1 << 63, .max]
        for (a, b) in zip(values, values.dropFirst()) {
            #expect(StoredInteger.sortable(a) < StoredInteger.sortable(b))
            #expect(StoredInteger.fromSortable(StoredInteger.sortable(a)) == a)
        }
    }
}
