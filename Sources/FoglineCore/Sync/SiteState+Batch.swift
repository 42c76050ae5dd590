extension SiteState {
    /// What a replica that sent `peer` lacks, at most `maxEntries` entries of it (plus the alarm
    /// kernel when the peer's differs), or `nil` when it lacks nothing: one batch of anti-entropy.
    ///
    /// When everything missing fits, the batch is ``delta(since:)``. Otherwise it ships, for each
    /// writer, every missing entry up to a counter limit, the oldest writes first, and its context
    /// is what those limits cover in this replica's context (overwritten dots below them
    /// included), never the dot of an entry it leaves out. A receiver that merges it and reports
    /// its context is then sent the rest, and the last batch, which fits, carries the whole
    /// context. Every part but the alarm kernel joins entry by entry, so any such subset merges
    /// correctly; the kernel always travels whole.
    public func batch(since peer: ReplicaSummary, maxEntries: Int) -> SiteDelta? {
        var missing: [Dot] = []
        func collect(_ store: some EntryDotStore) {
            store.forEachDot { dot in
                if !peer.context.contains(dot) { missing.append(dot) }
            }
        }
        collect(registry)
        collect(presence)
        collect(reported)
        collect(desired)
        collect(counters)
        collect(rollups)
        collect(raw)
        guard missing.count > max(1, maxEntries) else { return delta(since: peer) }

        missing.sort { ($0.counter, $0.node) < ($1.counter, $1.node) }
        var limits: [NodeID: UInt64] = [:]
        for dot in missing.prefix(max(1, maxEntries)) { limits[dot.node] = max(limits[dot.node] ?? 0, dot.counter) }
        let shipped = { (dot: Dot) in dot.counter <= limits[dot.node] ?? 0 && !peer.context.contains(dot) }
        var covered = context.restricted(to: limits)
        let kernel = alarms.digest == peer.kernelDigest ? nil : alarms
        if let kernel {
            for dot in kernel.entries.keys { covered.insert(dot) }
        }
        return SiteDelta(
            context: covered, registry: registry.entries(where: shipped), presence: presence.entries(where: shipped),
            reported: reported.entries(where: shipped), desired: desired.entries(where: shipped),
            counters: counters.entries(where: shipped), alarms: kernel, rollups: rollups.entries(where: shipped),
            raw: raw.entries(where: shipped))
    }
}
