#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts the one detached, named thread an event loop runs on.
enum LoopThread {
    private final class Body {
        let name: String
        let run: @Sendable () -> Void
        init(name: String, run: @escaping @Sendable () -> Void) {
            self.name = name
            self.run = run
        }
    }

    /// `name` shows up in `top -H` and `/proc/PID/task/*/comm` (Linux keeps 15 bytes of it).
    static func start(name: String, _ run: @escaping @Sendable () -> Void) throws(MQTTClientError) {
        let context = Unmanaged.passRetained(Body(name: name, run: run)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            #if canImport(Glibc)
            guard let context else { return nil }
            #endif
            let body = Unmanaged<Body>.fromOpaque(context).takeRetainedValue()
            #if canImport(Glibc)
            // pthread_setname_np is hidden behind _GNU_SOURCE in Swift's Glibc module; the
            // kernel offers the same through procfs.
            let descriptor = open("/proc/thread-self/comm", O_WRONLY)
            if descriptor >= 0 {
                let name = Array(body.name.utf8.prefix(15))
                _ = name.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
                close(descriptor)
            }
            #elseif canImport(Darwin)
            _ = pthread_setname_np(body.name)
            #endif
            body.run()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw .library(operation: "pthread_create for the MQTT event loop", code: result, detail: MosquittoLibrary.describeErrno(result))
        }
        pthread_detach(thread)
    }
}

/// The identity of a thread, comparable from any thread.
struct ThreadIdentity: @unchecked Sendable {
    // pthread_t is an integer on Linux and a pointer on Darwin; it is only ever compared.
    private let thread: pthread_t

    static var current: ThreadIdentity { ThreadIdentity(thread: pthread_self()) }

    var isCurrent: Bool { pthread_equal(thread, pthread_self()) != 0 }
}
