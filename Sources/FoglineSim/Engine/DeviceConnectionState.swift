/// Where a simulated device's MQTT connection stands, as the engine sees it.
public enum DeviceConnectionState: Sendable, Hashable {
    /// The simulation has not started.
    case idle
    /// The engine asked the transport to connect (`connect` or `reconnect`) and waits for
    /// `connectionChanged`.
    case connecting
    /// Connected and born; telemetry flows.
    case connected(since: Int64)
    /// Disconnected (by the `disconnect` fault, a lost connection or a failed attempt);
    /// the engine will ask to reconnect at `until`.
    case waitingToReconnect(until: Int64)
    /// The run is over.
    case stopped

    /// Whether the device is connected.
    public var isConnected: Bool {
        if case .connected = self { return true }
        return false
    }
}
