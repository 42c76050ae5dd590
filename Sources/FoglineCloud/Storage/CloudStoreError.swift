/// A storage failure of the aggregator, worded for the operator who has to fix it:
/// `description` is a sentence that says what went wrong and what to do.
public struct CloudStoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The database cannot be opened or reached.
        case unavailable
        /// The configuration (a URL, a schema name) is not usable.
        case invalidConfiguration
        /// The store was closed.
        case closed
        /// A stored row could not be decoded.
        case corrupt
        /// Any other database error.
        case failed
    }

    public let kind: Kind
    public let description: String

    public init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }

    static func unreadableRow(table: String, detail: String) -> CloudStoreError {
        CloudStoreError(
            kind: .corrupt,
            description: "A row of table \(table) cannot be read (\(detail)). The database was changed by something "
                + "other than fogline-cloud or is damaged: restore it from a backup, or move it aside and let the "
                + "edge nodes resend their state.")
    }

    static func closed(_ backend: String) -> CloudStoreError {
        CloudStoreError(
            kind: .closed,
            description: "The \(backend) cloud store is closed; open a new one to keep using the database.")
    }
}
