/// Counts the devices that have reached a milestone (a first connection, a first birth),
/// each once, to tell when the whole fleet has: ``SimMQTTDriver`` logs that moment.
public struct FleetMilestone: Sendable {
    private var reached: [Bool]
    /// How many devices have reached it.
    public private(set) var count = 0

    /// No device of `deviceCount` has reached it.
    public init(deviceCount: Int) {
        reached = Array(repeating: false, count: deviceCount)
    }

    /// Notes that `device` reached the milestone; `true` only for the note that completes
    /// the fleet (never for a device noted again).
    public mutating func note(_ device: Int) -> Bool {
        guard !reached[device] else { return false }
        reached[device] = true
        count += 1
        return count == reached.count
    }
}
