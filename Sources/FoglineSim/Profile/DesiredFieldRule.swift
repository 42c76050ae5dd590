/// A `desired` field that a device accepts, and which values it accepts for it.
public struct DesiredFieldRule: Sendable, Hashable {
    /// The field name; a ``ReportedField`` of the same name receives the value.
    public var field: String
    /// The values accepted; a desired value outside it is ignored, so the reported value
    /// stays as it was and the edge sees desired and reported disagree, as with a real
    /// device that cannot reach a setting.
    public var constraint: FieldConstraint

    /// A rule accepting `field` within `constraint`.
    public init(field: String, constraint: FieldConstraint = FieldConstraint()) {
        self.field = field
        self.constraint = constraint
    }
}
