import GRDB

/// A storage failure, worded for the operator who has to fix it.
///
/// `description` is a complete sentence that names the database file and says what to do;
/// `kind` lets code react (for example, stop the daemon on ``Kind/corrupt`` but retry on
/// ``Kind/busy``). SQLite's own message is kept in `underlying` for the log.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The file or its directory cannot be opened or created.
        case cannotOpen
        /// The file exists but is not an SQLite database.
        case notADatabase
        /// The file or directory is read-only for this process.
        case readOnly
        /// Another process holds a lock longer than the busy timeout.
        case busy
        /// The file system is full.
        case diskFull
        /// The operating system reported an I/O error (a failing SD card, a removed disk).
        case ioError
        /// SQLite found the file damaged, or a row could not be decoded.
        case corrupt
        /// The database was written by a newer Fogline whose schema this build does not know.
        case newerSchema
        /// The file system cannot hold a write-ahead log (e.g. some network file systems).
        case walUnavailable
        /// The batch is malformed (a programming error in the caller); nothing was written.
        case invalidBatch
        /// Any other SQLite error (a constraint, a trigger, a bug).
        case failed
    }

    public let kind: Kind
    /// The database file the error is about.
    public let path: String
    /// What the store was doing (`"commit a batch"`, `"open"`, …).
    public let operation: String
    /// SQLite's (or the decoder's) own words, for logs.
    public let underlying: String

    public init(kind: Kind, path: String, operation: String, underlying: String) {
        self.kind = kind
        self.path = path
        self.operation = operation
        self.underlying = underlying
    }

    public var description: String {
        switch kind {
        case .cannotOpen:
            "Cannot open the database at \(path): \(underlying). Check --data: the directory must exist and be writable by this user."
        case .notADatabase:
            "The file \(path) is not a Fogline database (\(underlying)). Point --data at an empty directory or move the file aside."
        case .readOnly:
            "Cannot \(operation): \(path) is read-only (\(underlying)). Check the permissions of the file, its -wal and -shm files and their directory, or whether the file system is mounted read-only."
        case .busy:
            "Cannot \(operation): \(path) is locked by another process (\(underlying)). Is another fogline-edge running with the same --data?"
        case .diskFull:
            "Cannot \(operation): the disk holding \(path) is full (\(underlying)). Free space, or lower the raw telemetry retention."
        case .ioError:
            "Cannot \(operation): I/O error on \(path) (\(underlying)). The storage may be failing: check `dmesg` and the SD card."
        case .corrupt:
            "Cannot \(operation): \(path) is damaged (\(underlying)). Stop the node, move the file (and its -wal file) aside and restart: the node resyncs its state from its peers and the cloud."
        case .newerSchema:
            "The database at \(path) was written by a newer Fogline (\(underlying)). Upgrade fogline-edge, or point --data at another directory."
        case .walUnavailable:
            "Cannot use write-ahead logging for \(path) (\(underlying)). Put --data on a local file system (ext4, f2fs), not a network share."
        case .invalidBatch:
            "Cannot \(operation) to \(path): \(underlying)."
        case .failed:
            "Cannot \(operation) in \(path): \(underlying)."
        }
    }

    /// Wraps whatever `operation` threw; a ``StoreError`` passes through unchanged.
    static func wrapping(_ error: any Error, path: String, operation: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if error is RowDecodingError {
            return StoreError(kind: .corrupt, path: path, operation: operation, underlying: "\(error)")
        }
        guard let error = error as? DatabaseError else {
            return StoreError(kind: .failed, path: path, operation: operation, underlying: "\(error)")
        }
        let message = error.message ?? "SQLite error \(error.extendedResultCode.rawValue)"
        let kind: Kind
        switch error.resultCode {
        case .SQLITE_CANTOPEN: kind = .cannotOpen
        case .SQLITE_PERM, .SQLITE_AUTH: kind = operation == "open" ? .cannotOpen : .readOnly
        case .SQLITE_READONLY: kind = .readOnly
        case .SQLITE_BUSY, .SQLITE_LOCKED: kind = .busy
        case .SQLITE_FULL: kind = .diskFull
        case .SQLITE_IOERR: kind = .ioError
        case .SQLITE_CORRUPT: kind = .corrupt
        case .SQLITE_NOTADB: kind = .notADatabase
        default: kind = .failed
        }
        return StoreError(kind: kind, path: path, operation: operation, underlying: message)
    }

    /// A row that does not decode: the file was damaged or edited by hand.
    static func unreadableRow(path: String, table: String, detail: String) -> StoreError {
        StoreError(kind: .corrupt, path: path, operation: "read \(table)", underlying: "a row of \(table) is unreadable: \(detail)")
    }
}
