import CMalloc

/// Keeps the daemon's resident memory to what it uses (README, "Benchmarks"):
///
/// - malloc maps blocks of 128 KiB and more on their own and gives them back when freed, and gives
///   back a free top of the heap above 128 KiB: left to itself, glibc raises the first threshold
///   after every such free, so a fold's buffers stay in the heap for good;
/// - the pages of code that ran once (argument parsing, the configuration, the store's
///   migrations) or rarely stay mapped until the process ends, each fault mapping the 64 KiB
///   around it too. Once start-up is over, and then every minute, the code mappings are dropped:
///   the pages stay in the page cache, and those in use are mapped again when next run (a few
///   hundred minor faults). The heap's free memory is given back at the same time.
enum ResidentMemory {
    static let mallocThresholdBytes: Int32 = 128 * 1024
    /// Start-up is over by then: the store open, the node subscribed, the first commits made.
    static let firstTrimAfter: Duration = .seconds(10)
    static let trimInterval: Duration = .seconds(60)

    /// Sets malloc's thresholds; call before any thread starts.
    static func configureMalloc() {
        // glibc gives threads their own arenas (up to eight per core), and each keeps the memory
        // freed in it; the daemon's nine threads held ~1.5 MB more heap that way than with two.
        _ = fogline_set_malloc_arena_max(2)
        _ = fogline_set_malloc_thresholds(mallocThresholdBytes, mallocThresholdBytes)
    }

    /// Trims after ``firstTrimAfter``, then every ``trimInterval``, until cancelled.
    static func trimPeriodically() async {
        var delay = firstTrimAfter
        // A periodic schedule, not a wait for a condition.
        while (try? await Task.sleep(for: delay)) != nil {
            _ = fogline_release_code_pages()
            _ = fogline_trim_heap()
            delay = trimInterval
        }
    }
}
