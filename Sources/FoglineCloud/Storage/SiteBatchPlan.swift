internal import FoglineCore

/// ``CloudStore/batch(site:since:maxEntries:)`` without loading the whole site: which rows to read,
/// and the batch they make.
///
/// `SiteState.batch(since:maxEntries:)` ships, when more than `M = max(1, maxEntries)` entries
/// are missing, every missing entry of writer `w` up to a counter limit `L(w)`, where the limits
/// come from the `M` oldest missing dots in `(counter, node)` order. So for each writer of the
/// stored context the plan reads, from each part table, the rows of `w` after the peer's
/// version-vector counter of `w`, oldest dot first, at most `M + 1 + k(w)` of them, where `k(w)` is
/// the number of the peer's cloud dots of `w` above that counter (rows the peer already holds,
/// dropped in Swift). Then:
///
/// - every missing entry `(w, c)` with `c ≤ L(w)` is read: were it cut off, its table would hold at
///   least `M + 1` missing entries of `w` below `c`, all ordered before `(w, L(w))`, which is among
///   the first `M` — a contradiction. The same argument with `M + 1` shows the first `M + 1` missing
///   dots are read, so the partial state has more than `M` missing entries exactly when the full
///   one has, and then the same `M` oldest (hence the same limits and the same shipped entries);
/// - when at most `M` are missing, every one is read and both take the `delta(since:)` path.
///
/// The batch's context comes from the stored context and the kernel is always whole, so
/// `SiteState.batch` on the stored context + kernel + the rows read equals it on the full state.
struct SiteBatchPlan {
    let peer: ReplicaSummary
    let maxEntries: Int
    let context: CausalContext
    let alarms: DotKernel<Alarm>

    /// `true` when the peer lacks nothing: it holds every stored dot (hence every entry) and the
    /// same kernel. No row needs reading.
    var peerLacksNothing: Bool {
        peer.holdsEverything(of: ReplicaSummary(context: context, kernelDigest: alarms.digest))
    }

    /// The reads, per writer and table.
    func queries(site: String) -> [(table: PartTable, statement: SQLStatement)] {
        let limit = max(1, maxEntries) + 1
        var writers = Set(context.versionVector.map(\.node))
        for dot in context.cloud { writers.insert(dot.node) }
        var queries: [(table: PartTable, statement: SQLStatement)] = []
        for writer in writers.sorted() {
            let after = peer.context.contiguousMaximum(of: writer)
            // No stored dot of this writer above what the peer holds contiguously: nothing to read.
            guard context.nextDot(for: writer).counter - 1 > after else { continue }
            let held = peer.context.cloud.lazy.filter { $0.node == writer && $0.counter > after }.count
            for table in PartTable.allCases {
                queries.append((table, SQLStatement(table.selectWriterAfter, [
                    .text(site), .sortable(writer.rawValue), .bits(after), .integer(Int64(limit + held)),
                ])))
            }
        }
        return queries
    }

    /// The batch the rows read with ``queries(site:)`` make.
    func batch(rows: [(table: PartTable, rows: [SQLRow])]) throws -> SiteDelta? {
        var parts = SiteParts()
        for (table, tableRows) in rows {
            for row in tableRows { try table.add(row, to: &parts) }
        }
        return parts.state(context: context, alarms: alarms).batch(since: peer, maxEntries: maxEntries)
    }
}
