/// Something the engine asks its transport to do for one simulated device.
///
/// This enum and the `Simulation` methods that take events (`start`, `tick`, `handle`,
/// `connectionChanged`, `stop`) are the whole boundary between the pure engine and MQTT.
/// A transport (the `fogline-sim` executable with an MQTT multiplexer, or
/// ``LoopbackRun`` in tests) performs the actions in order and reports back:
///
/// - `connect` / `reconnect`: open the device's MQTT connection (client id and will as
///   given, clean session, so subscriptions are renewed by the engine after each connect). Report the outcome with `connectionChanged(device:connected:now:)`:
///   `true` once the broker accepted it (the engine then subscribes and publishes the
///   birth, or waits for an edge node's `online` status first), `false` if it failed. The transport never reconnects on its own: the
///   engine schedules every retry.
/// - `subscribe`: subscribe the device's client to `filter` at `qos`. Messages that arrive
///   go to `handle(device:topic:payload:now:)`.
/// - `publish`: publish on the device's client, in the order given.
/// - `dropConnection`: close the socket abruptly, without an MQTT DISCONNECT, so that the
///   broker publishes the will. Do not report the loss that follows: the engine already
///   knows, and a late `connected: false` arriving after its `reconnect` would read as a
///   failed attempt (harmless, but it costs the device a retry delay).
/// - `disconnect`: a clean MQTT DISCONNECT (the will is discarded) at the end of the
///   run; the engine has already published a `death` itself.
public enum SimAction: Sendable, Hashable {
    /// Open the device's first connection.
    case connect(device: Int, clientID: String, will: SimMessage)
    /// Open the device's connection again (same client id and will) after a drop or a failure.
    case reconnect(device: Int)
    /// Subscribe the device to a topic filter: one of its own topics, or the nodes' status
    /// filter `fogline/v1/{site}/node/+/status` (see ``Simulation/awaitEdgeMillis``).
    case subscribe(device: Int, filter: String, qos: SimQoS)
    /// Publish a message from the device.
    case publish(device: Int, message: SimMessage)
    /// Drop the device's connection abruptly, so that its will fires (the `disconnect` fault).
    case dropConnection(device: Int)
    /// Disconnect the device cleanly at the end of the run.
    case disconnect(device: Int)

    /// The device the action is for.
    public var device: Int {
        switch self {
        case .connect(let device, _, _), .reconnect(let device), .subscribe(let device, _, _),
            .publish(let device, _), .dropConnection(let device), .disconnect(let device):
            device
        }
    }

    /// The message, if this is a publication.
    public var publishedMessage: SimMessage? {
        if case .publish(_, let message) = self { return message }
        return nil
    }
}

/// The MQTT quality of service of a message or subscription (the contract uses 0 and 1).
public enum SimQoS: Int, Sendable, Hashable, Codable {
    /// QoS 0, at most once.
    case atMostOnce = 0
    /// QoS 1, at least once.
    case atLeastOnce = 1
}
