public import FoglineCore

/// A command a device understands: the reported fields it sets.
///
/// A device carries a command out all or nothing: if any value is refused (a missing
/// argument, a value out of range), nothing changes and the ack is `failed` with a detail.
public struct CommandSpec: Sendable, Hashable {
    /// The command name, as in the `cmd` payload's `name`.
    public var name: String
    /// The reported fields the command sets, in order. May be empty (the command succeeds
    /// and changes nothing).
    public var assignments: [FieldAssignment]

    /// A command setting `assignments` in order.
    public init(name: String, assignments: [FieldAssignment]) {
        self.name = name
        self.assignments = assignments
    }
}

/// One reported field that a command sets, and where its new value comes from.
public struct FieldAssignment: Sendable, Hashable {
    /// The reported field to set.
    public var field: String
    /// Where the new value comes from.
    public var source: Source

    /// Where a command takes a field's new value from.
    public enum Source: Sendable, Hashable {
        /// Always this value (`close_valve` sets `position` to 0).
        case constant(FieldValue)
        /// The command argument `name` (a member of `args`); `defaultValue` when absent,
        /// and the command fails when absent without a default. The value must pass
        /// `constraint` and have the field's type.
        case argument(name: String, defaultValue: FieldValue?, constraint: FieldConstraint)
    }

    /// An assignment of `field` from `source`.
    public init(field: String, source: Source) {
        self.field = field
        self.source = source
    }
}
