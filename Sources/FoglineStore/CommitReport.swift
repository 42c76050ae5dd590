/// What one commit wrote.
public struct CommitReport: Sendable, Equatable {
    /// Rows inserted, updated or deleted (SQLite's change count; an upsert that lost its join
    /// changes nothing and is not counted).
    public var rowsChanged: Int
    /// Bytes of blobs written: raw telemetry values and outbox payloads.
    public var blobBytes: Int
    /// The outbox id of each message in `outboxAppends`, in order (for a message whose
    /// deduplication key was already present, the id of the message already there).
    public var outboxIDs: [Int64]
    /// The committed batch's ``StoreBatch/readings`` (telemetry readings now durable), as
    /// ``BatchingWriter`` reports it to `onCommit`; ``EdgeStore/commit(_:)`` leaves it 0.
    public var readings: Int

    public init(rowsChanged: Int = 0, blobBytes: Int = 0, outboxIDs: [Int64] = [], readings: Int = 0) {
        self.rowsChanged = rowsChanged
        self.blobBytes = blobBytes
        self.outboxIDs = outboxIDs
        self.readings = readings
    }
}
