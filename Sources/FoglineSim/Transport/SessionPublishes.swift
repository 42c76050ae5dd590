/// What ``SimMQTTDriver`` keeps of each device's publishes across sessions: a value with no
/// I/O, so the rule is tested without a broker.
///
/// A publish is *pending* from the moment its client takes it until the client reports it
/// sent (QoS 1: acknowledged by the broker; QoS 0: written). When a device reconnects with
/// publishes still pending, the driver replaces its client (libmosquitto would send them
/// again as soon as the broker accepts the connection, and after a broker restart that is
/// before the edge has resubscribed, so they would be lost) and they become *held*: the
/// driver sends them itself right before the device's next birth, once the edge is online.
public struct SessionPublishes<Message: Sendable>: Sendable {
    /// Each device's pending publishes, by the client's message id, in the order sent.
    private var pending: [[(id: Int32, message: Message)]]
    /// Each device's held publishes, oldest first.
    private var held: [[Message]]

    /// Nothing pending or held for any of `deviceCount` devices.
    public init(deviceCount: Int) {
        pending = Array(repeating: [], count: deviceCount)
        held = Array(repeating: [], count: deviceCount)
    }

    /// The device's client took `message` under message id `id`.
    public mutating func sent(_ message: Message, id: Int32, device: Int) {
        pending[device].append((id, message))
    }

    /// The device's client reports message `id` sent: it is no longer pending.
    public mutating func acknowledged(id: Int32, device: Int) {
        pending[device].removeAll { $0.id == id }
    }

    /// Whether the device has publishes its client has not reported sent.
    public func hasPending(device: Int) -> Bool {
        !pending[device].isEmpty
    }

    /// Ends the device's session: its pending publishes are held, after any held already.
    /// Returns how many are held now.
    @discardableResult
    public mutating func holdPending(device: Int) -> Int {
        held[device] += pending[device].map(\.message)
        pending[device].removeAll()
        return held[device].count
    }

    /// The device's held publishes, oldest first, to send before its next birth; they are
    /// no longer held (sending them makes them pending again).
    public mutating func takeHeld(device: Int) -> [Message] {
        defer { held[device].removeAll() }
        return held[device]
    }
}
