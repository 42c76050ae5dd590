/// A `--fault` option that could not be used.
public struct FaultPlanError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The option as given, e.g. `gap=2`.
    public var option: String
    /// What is wrong and what to write instead.
    public var message: String

    /// An error about `option`.
    public init(option: String, message: String) {
        self.option = option
        self.message = message
    }

    /// `--fault "OPTION": message`.
    public var description: String {
        "--fault \"\(option)\": \(message)"
    }
}
