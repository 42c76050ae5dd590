import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes a file that holds secrets (keys, passwords): created with its final mode, so it is never
/// readable by others, not even for a moment; written to a temporary name, synced and renamed,
/// so it is never seen half-written.
enum SecretFileWriter {
    /// Why a write failed: the operating system's reason and what to check.
    struct Failure: Error, CustomStringConvertible {
        var path: String
        var reason: String
        var description: String { "cannot write \(path): \(reason); check that its directory exists and this user may write there" }
    }

    static func write(_ bytes: [UInt8], to path: String, mode: mode_t) throws(Failure) {
        let temporary = "\(path).tmp-\(getpid())"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                unlink(temporary)
                throw Failure(path: path, reason: reason)
            }
            offset += count
        }
        // The mode given to open is reduced by the umask; set it exactly.
        fchmod(descriptor, mode)
        fsync(descriptor)
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure(path: path, reason: reason)
        }
    }
}
