import CMalloc

/// Keeps the daemon's resident memory to what it uses (README, "Benchmarks"):
///
/// - malloc maps blocks of 128 KiB and more on their own and gives them back when freed, and gives
///   back a free top of the heap above 128 KiB: left to itself, glibc raises the first threshold
///   after every such free, so a fold's buffers stay in the heap for good;
/// - the pages of code that ran once (argument parsing, the configuration, the store's
///   migrations) or rarely stay mapped until the process ends, each fault mapping the 64 KiB
///   around it too; so do the read-only data read at start-up (unwind tables, type metadata,
///   the libraries' constants). Once start-up is over, and then every minute, the code mappings
///   and the never-written pages of the read-only data mappings are dropped: the pages stay in
///   the page cache, and those in use are mapped again when next used (a few hundred minor
///   faults). The heap's free memory is given back at the same time.
enum ResidentMemory {
    static let mallocThresholdBytes: Int32 = 128 * 1024
    /// When the first trims come, counted from the node's construction. main.swift trims before
    /// that at four points: on entry (the loader's and the libraries' initializers leave ~6 MB
    /// mapped), once the arguments are parsed (ArgumentParser's reflection maps ~7 MB), once the
    /// configuration is read and once the node is constructed. Every stretch of start-up maps
    /// 5–7 MB of code and constants of its own, so a member's resident memory peaks at the sum of
    /// what is left and what one stretch maps: a trim every 50 ms while the node binds its ports
    /// and makes its first connections (peaks of 13.7–14.6 MB; 15.4 with the first at 0.25 s),
    /// then by 10 s, once it has joined the site (peers connected, the first leases, the broker's
    /// subscriptions, the first commits).
    static let startUpTrimTimes: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(150), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2), .seconds(10),
    ]
    static let trimInterval: Duration = .seconds(60)

    /// Sets malloc's thresholds; call before any thread starts.
    static func configureMalloc() {
        // glibc gives threads their own arenas (up to eight per core), and each keeps the memory
        // freed in it; the daemon's nine threads held ~1.5 MB more heap that way than with two.
        _ = fogline_set_malloc_arena_max(2)
        _ = fogline_set_malloc_thresholds(mallocThresholdBytes, mallocThresholdBytes)
    }

    /// Trims at each of ``startUpTrimTimes`` from now, then every ``trimInterval``, until cancelled.
    static func trimPeriodically() async {
        // A schedule, not a wait for a condition.
        var waited: Duration = .zero
        for time in startUpTrimTimes {
            guard (try? await Task.sleep(for: time - waited)) != nil else { return }
            waited = time
            trim()
        }
        while (try? await Task.sleep(for: trimInterval)) != nil { trim() }
    }

    /// Drops the code and never-written read-only data pages and gives back the free heap.
    static func trim() {
        _ = fogline_release_code_pages()
        _ = fogline_release_read_only_file_pages()
        _ = fogline_trim_heap()
    }
}
