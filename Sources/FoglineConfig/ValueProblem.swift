/// Why a configuration value (a setting's text or a flag's argument) cannot be used, as a
/// sentence for the person who wrote it.
public struct ValueProblem: Error, Sendable, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    /// What `parse` makes of a value, or its error (described) as the problem: for readers such as
    /// ``ConfigReader/string(_:_:as:)`` over a parser that throws.
    public static func catching<Value>(_ parse: () throws -> Value) -> Result<Value, ValueProblem> {
        do { return .success(try parse()) } catch { return .failure(ValueProblem(String(describing: error))) }
    }
}
