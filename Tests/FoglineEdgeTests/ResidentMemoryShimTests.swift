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

    @Test("malloc's thresholds are set; freed heap is given back")
    func heapTrim() {
        #expect(fogline_set_malloc_thresholds(128 * 1024, 128 * 1024) == 1)
        // 4 MiB in blocks below the mmap threshold come from the heap; freed, they can be trimmed.
        var blocks = (0..<64).map { index in [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 64 * 1024) }
        #expect(blocks.reduce(0) { $0 + $1.count } == 4 << 20)
        blocks.removeAll()
        #expect(fogline_trim_heap() == 1)
    }
}
