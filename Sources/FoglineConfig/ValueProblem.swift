/// Why a configuration value (a setting's text or a flag's argument) cannot be used, as a
/// sentence for the person who wrote it.
public struct ValueProblem: Error, Sendable, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}
