/// Coalesces the owner's writes into few transactions: everything submitted within an interval
/// (default 200 ms) is committed as one ``StoreBatch``, or earlier once the pending items reach
/// a threshold.
///
/// Why: every SQLite commit appends at least one page to the log, and an SD card wears by the
/// erase block; a thousand readings a second committed one by one would be a thousand commits,
/// batched they are five. The price is that a crash loses at most one interval of accepted but
/// uncommitted writes, which the devices' `seq` + replay and peers' anti-entropy recover.
///
/// Commits run one at a time and in submission order, so "last row wins" items (ingest rows,
/// commands) and the outbox's FIFO order are kept. A failed commit drops nothing: its items go
/// back to the front of the pending batch and are retried (after a back-off that grows to 5 s),
/// the error is handed to `onError` (log it there) and thrown by the next ``flush()``.
/// Committing is idempotent, so a retry is safe.
public actor BatchingWriter {
    public struct Configuration: Sendable {
        /// How long submitted items may wait before they are committed.
        public var interval: Duration
        /// Commit as soon as this many items are pending (see ``StoreBatch/itemCount``).
        public var maxPendingItems: Int
        /// While commits fail, refuse new batches once this many items are pending, so a dead
        /// disk shows up as an error to the owner rather than as unbounded memory.
        public var maxBufferedItems: Int

        public init(interval: Duration = .milliseconds(200), maxPendingItems: Int = 1_000, maxBufferedItems: Int = 100_000) {
            precondition(maxPendingItems > 0 && maxBufferedItems >= maxPendingItems, "need 0 < maxPendingItems <= maxBufferedItems")
            self.interval = interval
            self.maxPendingItems = maxPendingItems
            self.maxBufferedItems = maxBufferedItems
        }
    }

    /// What the writer has done so far.
    public struct Statistics: Sendable, Equatable {
        /// Batches accepted by ``submit(_:)``.
        public var submittedBatches = 0
        /// Successful commits (one transaction each).
        public var transactions = 0
        /// Items committed (see ``StoreBatch/itemCount``).
        public var committedItems = 0
        /// Rows SQLite reported changed.
        public var rowsChanged = 0
        /// Blob bytes written (raw telemetry values, outbox payloads).
        public var blobBytes = 0
        /// Commits that failed (their items were kept and retried).
        public var failedCommits = 0
        /// Items waiting for the next commit.
        public var pendingItems = 0

        public init() {}
    }

    public let store: EdgeStore
    public let configuration: Configuration
    public private(set) var statistics = Statistics()
    /// The error of the last commit, until a commit succeeds.
    public private(set) var lastError: StoreError?

    private let onCommit: @Sendable (CommitReport) -> Void
    private let onError: @Sendable (StoreError) -> Void
    private var pending = StoreBatch()
    private var timer: Task<Void, Never>?
    private var committing = false
    private var waitingForCommit: [CheckedContinuation<Void, Never>] = []
    private var consecutiveFailures = 0

    /// - Parameters:
    ///   - onCommit: called after each successful commit (metrics).
    ///   - onError: called with every failed commit (log it; the items are kept and retried).
    public init(
        store: EdgeStore, configuration: Configuration = Configuration(),
        onCommit: @escaping @Sendable (CommitReport) -> Void = { _ in },
        onError: @escaping @Sendable (StoreError) -> Void
    ) {
        self.store = store
        self.configuration = configuration
        self.onCommit = onCommit
        self.onError = onError
    }

    /// Queues `batch` for the next commit; commits at once (and waits for it) when the pending
    /// items reach ``Configuration/maxPendingItems``.
    ///
    /// - Throws: ``StoreError`` when the batch is not accepted: it is malformed
    ///   (``StoreError/Kind/invalidBatch``), or commits have been failing and
    ///   ``Configuration/maxBufferedItems`` are already waiting (the last commit error).
    ///   A batch that was accepted is never dropped; a failure to commit it is reported through
    ///   `onError` and ``flush()``.
    public func submit(_ batch: StoreBatch) async throws {
        if let problem = batch.problem {
            throw StoreError(kind: .invalidBatch, path: store.path, operation: "submit a batch", underlying: problem)
        }
        if let lastError, pending.itemCount >= configuration.maxBufferedItems {
            throw lastError
        }
        guard !batch.isEmpty else { return }
        pending.append(batch)
        statistics.submittedBatches += 1
        statistics.pendingItems = pending.itemCount
        if pending.itemCount >= configuration.maxPendingItems && lastError == nil {
            // Errors are reported by commitPending and kept for flush(); the batch is accepted.
            _ = try? await commitPending()
        } else {
            scheduleTimer(after: configuration.interval)
        }
    }

    /// Commits everything pending now, after any commit already running; returns what this
    /// commit wrote (`nil` if nothing was pending). Call it on shutdown.
    ///
    /// - Throws: the ``StoreError`` of the commit; the items stay pending and are retried.
    @discardableResult
    public func flush() async throws -> CommitReport? {
        try await commitPending()
    }

    // MARK: Private

    private func commitPending() async throws -> CommitReport? {
        // One commit at a time, in order: awaiting the store lets other calls into the actor.
        while committing {
            await withCheckedContinuation { waitingForCommit.append($0) }
        }
        guard !pending.isEmpty else { return nil }
        committing = true
        defer {
            committing = false
            let waiters = waitingForCommit
            waitingForCommit.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        timer?.cancel()
        timer = nil
        let batch = pending
        pending = StoreBatch()
        do {
            // The commit belongs to the writer, not to whichever task triggered it: a cancelled
            // caller (a stopping uplink, a timer cancelled as it fired) must not fail it, or
            // GRDB's cancellation check turns every item of the batch into a retry.
            let store = store
            var report = try await Task.detached { try await store.commit(batch) }.value
            report.readings = batch.readings
            statistics.transactions += 1
            statistics.committedItems += batch.itemCount
            statistics.rowsChanged += report.rowsChanged
            statistics.blobBytes += report.blobBytes
            statistics.pendingItems = pending.itemCount
            lastError = nil
            consecutiveFailures = 0
            onCommit(report)
            if !pending.isEmpty { scheduleTimer(after: configuration.interval) }
            return report
        } catch {
            let failure = (error as? StoreError)
                ?? StoreError(kind: .failed, path: store.path, operation: "commit a batch", underlying: "\(error)")
            // Put the items back in front of anything submitted meanwhile, keeping their order.
            var restored = batch
            restored.append(pending)
            pending = restored
            statistics.failedCommits += 1
            statistics.pendingItems = pending.itemCount
            lastError = failure
            consecutiveFailures += 1
            onError(failure)
            scheduleTimer(after: retryDelay())
            throw failure
        }
    }

    private func scheduleTimer(after delay: Duration) {
        guard timer == nil, !pending.isEmpty else { return }
        timer = Task { [weak self] in
            do { try await Task.sleep(for: delay) } catch { return }
            await self?.timerFired()
        }
    }

    private func timerFired() async {
        timer = nil
        // A failure was reported through onError and is retried by the timer commitPending sets.
        _ = try? await commitPending()
    }

    /// The interval, doubled per consecutive failure, at most 5 s: a full disk is not hammered.
    private func retryDelay() -> Duration {
        var delay = configuration.interval
        for _ in 0..<min(consecutiveFailures, 16) where delay < .seconds(5) { delay *= 2 }
        return min(delay, max(.seconds(5), configuration.interval))
    }
}
