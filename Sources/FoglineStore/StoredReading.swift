public import FoglineCore

/// A raw telemetry reading as read back from the store.
public struct StoredReading: Sendable, Hashable {
    public var key: RawTelemetry.Key
    public var reading: RawTelemetry.Reading

    public init(key: RawTelemetry.Key, reading: RawTelemetry.Reading) {
        self.key = key
        self.reading = reading
    }
}
