/// An actuator command (DESIGN.md, `…/dev/{device}/cmd`) and where it is in its life: the edge
/// writes it when accepted, updates it when sent, acknowledged or expired, and finds unfinished
/// ones again after a restart.
public struct CommandRecord: Sendable, Hashable {
    /// The command id sent to the device (`"c-…"`), unique per site.
    public var id: String
    public var device: String
    public var name: String
    /// The `args` object, as JSON text.
    public var argumentsJSON: String
    /// The fencing token of the owner's lease when the command was issued.
    public var fence: UInt64
    public var status: CommandStatus
    /// How many times it was published.
    public var attempts: UInt32
    public var createdMilliseconds: UInt64
    /// When the edge gives up waiting for an acknowledgement.
    public var deadlineMilliseconds: UInt64
    /// The device's `detail`, or why the edge gave up.
    public var detail: String?

    public init(
        id: String, device: String, name: String, argumentsJSON: String = "{}", fence: UInt64,
        status: CommandStatus = .pending, attempts: UInt32 = 0, createdMilliseconds: UInt64,
        deadlineMilliseconds: UInt64, detail: String? = nil
    ) {
        self.id = id
        self.device = device
        self.name = name
        self.argumentsJSON = argumentsJSON
        self.fence = fence
        self.status = status
        self.attempts = attempts
        self.createdMilliseconds = createdMilliseconds
        self.deadlineMilliseconds = deadlineMilliseconds
        self.detail = detail
    }
}

/// The state of a command. A string, so the edge's command state machine can add states without
/// a schema change; the common ones are predefined.
public struct CommandStatus: RawRepresentable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Published (perhaps more than once), waiting for the device's acknowledgement.
    public static let pending: CommandStatus = "pending"
    /// Acknowledged `ok` by the device.
    public static let ok: CommandStatus = "ok"
    /// Acknowledged `rejected` (e.g. a stale fencing token).
    public static let rejected: CommandStatus = "rejected"
    /// Acknowledged `failed`.
    public static let failed: CommandStatus = "failed"
    /// No acknowledgement after every attempt.
    public static let timedOut: CommandStatus = "timed_out"

    public var description: String { rawValue }
}
