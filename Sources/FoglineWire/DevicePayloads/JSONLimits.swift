/// Bounds the strict parser enforces before and while it reads a payload.
///
/// The defaults follow the device contract: payloads of at most 64 KiB, nested at most
/// 32 containers deep. Both bounds protect the edge node: a payload over either one is
/// rejected (`oversized`, `too_deep`) without being stored.
public struct JSONLimits: Hashable, Sendable {
    /// The default largest payload, in bytes: 64 KiB.
    public static let defaultMaxBytes = 65_536
    /// The default deepest nesting of arrays and objects.
    public static let defaultMaxDepth = 32
    /// The deepest nesting any limit can allow. Larger `maxDepth` values are lowered to it,
    /// so that code walking a parsed value recursively can never exhaust a thread's stack.
    public static let depthCeiling = 512

    /// The limits of the device contract (64 KiB, 32 levels).
    public static let `default` = JSONLimits()

    /// The largest payload accepted, in bytes. A larger payload is rejected as
    /// `oversized` before any byte of it is parsed.
    public var maxBytes: Int

    /// The deepest nesting of arrays and objects accepted: `{}` is depth 1, `{"a":[]}`
    /// depth 2; a bare scalar is depth 0. Values above ``depthCeiling`` act as the ceiling
    /// and negative values as 0.
    public var maxDepth: Int {
        get { storedMaxDepth }
        set { storedMaxDepth = min(max(newValue, 0), Self.depthCeiling) }
    }

    private var storedMaxDepth: Int

    /// Limits with the given bounds; see ``maxBytes`` and ``maxDepth``.
    public init(maxBytes: Int = JSONLimits.defaultMaxBytes, maxDepth: Int = JSONLimits.defaultMaxDepth) {
        self.maxBytes = maxBytes
        self.storedMaxDepth = min(max(maxDepth, 0), Self.depthCeiling)
    }
}
