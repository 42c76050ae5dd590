#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-files limit (RLIMIT_NOFILE).
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit (a process may always do that) and returns the
    /// limit now in force. Thousands of simulated devices need one socket each; the usual soft
    /// limit of 1024 would stop them with EMFILE.
    @discardableResult
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0 else { return -1 }
        // RLIM_INFINITY is imported as a signed literal that does not fit rlim_t.
        let infinity = rlim_t.max
        // An unlimited hard limit is not a valid soft limit for open files; the kernel's
        // default ceiling (fs.nr_open) is 1,048,576.
        let target = limit.rlim_max == infinity ? min(limit.rlim_max, 1 << 20) : limit.rlim_max
        if limit.rlim_cur < target {
            var raised = limit
            raised.rlim_cur = target
            if setrlimit(resource, &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == infinity ? Int.max : Int(limit.rlim_cur)
    }
}
