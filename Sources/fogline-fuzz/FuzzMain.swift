// fogline-fuzz: libFuzzer targets for the inputs an edge node takes from outside (see README,
// "Fuzzing"). `make fuzz` builds it with `-sanitize=fuzzer,address -DFOGLINE_LIBFUZZER` in its
// own scratch directory and runs each target; the plain build (part of `swift build`) keeps it
// compiling and replays files through a target without libFuzzer.

import CLibFuzzer
import Foundation

/// One fuzz target: a name for the command line and the function that takes one input.
struct FuzzTarget: Sendable {
    let name: String
    let summary: String
    let run: @Sendable (UnsafeRawBufferPointer) -> Void

    static let all: [FuzzTarget] = [
        FuzzTarget(name: "device-json", summary: "device MQTT messages through the payload decoders and the device plane", run: DeviceMessageTarget.run),
        FuzzTarget(name: "peer-frame", summary: "a peer connection's byte stream: framing, handshake, authenticated protobuf frames", run: PeerFrameTarget.run),
        FuzzTarget(name: "sync-frame", summary: "edge ↔ cloud sync frames: envelope, batch assembly, deltas, signatures", run: SyncFrameTarget.run),
        FuzzTarget(name: "config", summary: "edge configuration and device profile YAML", run: ConfigFileTarget.run),
    ]
}

/// The target libFuzzer calls back into (a C function pointer cannot capture it).
nonisolated(unsafe) var selectedTarget: FuzzTarget?

/// libFuzzer's conventional entry, which its archive's (unused) `main` refers to: the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    selectedTarget?.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@main
enum FoglineFuzz {
    static func main() {
        var arguments = CommandLine.arguments
        if arguments.count == 3, arguments[1] == "seeds" {
            do { try SeedCorpus.write(to: arguments[2]) } catch {
                FileHandle.standardError.write(Data("fogline-fuzz seeds: \(error)\n".utf8))
                exit(1)
            }
            exit(0)
        }
        guard arguments.count >= 2, let target = FuzzTarget.all.first(where: { $0.name == arguments[1] }) else {
            let names = FuzzTarget.all.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n")
            FileHandle.standardError.write(Data("usage: fogline-fuzz TARGET [libFuzzer options] [CORPUS_DIR…]\n       fogline-fuzz seeds DIR   (writes the starting corpus)\ntargets:\n\(names)\n".utf8))
            exit(2)
        }
        selectedTarget = target
        arguments.remove(at: 1)
        #if FOGLINE_LIBFUZZER
        exit(runLibFuzzer(arguments))
        #else
        exit(replay(arguments.dropFirst().filter { !$0.hasPrefix("-") }, through: target))
        #endif
    }

    #if FOGLINE_LIBFUZZER
    /// Hands the remaining arguments (options, corpus directories) to libFuzzer.
    static func runLibFuzzer(_ arguments: [String]) -> Int32 {
        var argc = Int32(arguments.count)
        var cStrings: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        return cStrings.withUnsafeMutableBufferPointer { buffer in
            var argv = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOneInput(data, size) }
        }
    }
    #endif

    /// Without libFuzzer: runs every file given (directories: every file in them) through the
    /// target once; a crash is the finding.
    static func replay(_ paths: some Sequence<String>, through target: FuzzTarget) -> Int32 {
        var count = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("fogline-fuzz: \(path) does not exist\n".utf8))
                return 1
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target.run($0) }
                count += 1
            }
        }
        print("fogline-fuzz \(target.name): \(count) inputs replayed without a crash")
        return 0
    }
}
