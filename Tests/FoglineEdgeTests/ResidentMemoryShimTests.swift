import CMalloc
import Foundation
import Testing

/// The C helpers fogline-edge uses to give back memory (`Sources/CMalloc/shim.h`), run in this
/// test process: it keeps working after its code pages were dropped, and exactly its private
/// read-only executable file mappings were advised.
@Suite("Resident memory: code pages and heap given back")
struct ResidentMemoryShimTests {
    /// Bytes of the `r-xp` mappings backed by a file (inode not 0) in /proc/self/maps.
    static func codeMappingBytes() throws -> Int {
        // Read to the end: /proc files report a size of 0.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/maps"))
        defer { try? handle.close() }
        let maps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var total = 0
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, fields[1] == "r-xp", fields[4] != "0" else { continue }
            let bounds = fields[0].split(separator: "-").compactMap { Int($0, radix: 16) }
            guard bounds.count == 2 else { continue }
            total += bounds[1] - bounds[0]
        }
        return total
    }

    static func work() -> Int {
        (1...10_000).reduce(0) { ($0 &* 31 &+ $1) % 1_000_003 }
    }

    @Test("every private executable file mapping is advised, and the code runs on afterwards")
    func releaseCodePages() throws {
        let before = Self.work()
        // Threads of the test runner may map libraries meanwhile: compare with the maps read on
        // both sides of the call.
        let expectedLow = try Self.codeMappingBytes()
        let advised = fogline_release_code_pages()
        let expectedHigh = try Self.codeMappingBytes()
        #expect(advised > 0)
        #expect(advised >= min(expectedLow, expectedHigh) && advised <= max(expectedLow, expectedHigh),
                "advised \(advised) bytes; r-xp file mappings: \(expectedLow) before, \(expectedHigh) after")
        #expect(Self.work() == before, "the dropped code pages come back when run")
        #expect(fogline_release_code_pages() == advised || expectedLow != expectedHigh, "advising again covers the same mappings")
    }

    @Test("malloc's thresholds can be set and the heap trimmed, with memory still usable")
    func heapTrim() {
        #expect(fogline_set_malloc_thresholds(128 * 1024, 128 * 1024) == 1)
        var blocks = (0..<64).map { _ in [UInt8](repeating: 7, count: 256 * 1024) }
        blocks.removeAll()
        _ = fogline_trim_heap()
        let again = [UInt8](repeating: 9, count: 1 << 20)
        #expect(again.allSatisfy { $0 == 9 })
    }
}
