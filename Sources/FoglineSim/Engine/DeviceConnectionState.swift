/// Where a simulated device's MQTT connection stands, as the engine sees it.
public enum DeviceConnectionState: Sendable, Hashable {
    /// The simulation has not started.
    case idle
    /// The engine asked the transport to connect (`connect` or `reconnect`) and waits for
    /// `connectionChanged`.
    case connecting
    /// Connected and subscribed, but not born yet: the device waits for an edge node's
    /// `online` status (or for ``Simulation/awaitEdgeMillis`` to pass since `since`, when it
    /// connected) before its birth, so that the birth reaches an edge that is listening.
    case awaitingEdge(since: Int64)
    /// Connected and born (at `since`); telemetry flows.
    case connected(since: Int64)
    /// Disconnected (by the `disconnect` fault, a lost connection or a failed attempt);
    /// the engine will ask to reconnect at `until`.
    case waitingToReconnect(until: Int64)
    /// The run is over.
    case stopped

    /// Whether the device has an MQTT connection: born, or waiting for an edge to be born.
    public var isConnected: Bool {
        switch self {
        case .connected, .awaitingEdge: true
        case .idle, .connecting, .waitingToReconnect, .stopped: false
        }
    }

    /// Whether the device is connected and born: its telemetry flows.
    public var isBorn: Bool {
        if case .connected = self { return true }
        return false
    }
}
