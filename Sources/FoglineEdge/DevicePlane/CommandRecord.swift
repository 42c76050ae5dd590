public import FoglineWire

/// An actuator command and where it stands: published with the owner's fencing token, retried a
/// bounded number of times until the device acknowledges it, then final.
public struct CommandRecord: Sendable, Equatable {
    public enum Status: String, Sendable, Equatable, CaseIterable {
        case pending
        case ok
        case rejected
        case failed
        /// No acknowledgement after every attempt.
        case timedOut = "timed_out"

        public var isFinal: Bool { self != .pending }
    }

    public let id: String
    public let device: String
    public let name: String
    public let args: JSONValue
    public let fence: UInt64
    public var status: Status
    public var attempts: Int
    public var detail: String?
    public let createdMilliseconds: UInt64
    /// Monotonic milliseconds after which the current attempt counts as unanswered.
    public var deadlineMonotonic: UInt64

    public init(
        id: String, device: String, name: String, args: JSONValue, fence: UInt64, status: Status = .pending,
        attempts: Int = 0, detail: String? = nil, createdMilliseconds: UInt64, deadlineMonotonic: UInt64
    ) {
        self.id = id
        self.device = device
        self.name = name
        self.args = args
        self.fence = fence
        self.status = status
        self.attempts = attempts
        self.detail = detail
        self.createdMilliseconds = createdMilliseconds
        self.deadlineMonotonic = deadlineMonotonic
    }
}
