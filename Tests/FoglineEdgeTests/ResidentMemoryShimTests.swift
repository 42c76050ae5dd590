import CMalloc
import Foundation
import Testing

/// The C helpers fogline-edge uses to give back memory (`Sources/CMalloc/shim.h`), run in this
/// test process: it keeps working after its code pages were dropped, exactly its private
/// read-only executable file mappings were advised, and of its read-only data mappings only the
/// pages never written.
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

    /// Whether each page from `address` is resident in this process (/proc/self/pagemap bit 63).
    static func resident(_ address: UnsafeMutableRawPointer, pages: Int) throws -> [Bool] {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/pagemap"))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(Int(bitPattern: address) / pageSize * 8))
        let data = try #require(try handle.read(upToCount: pages * 8))
        return (0..<pages).map { page in
            let entry = data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: page * 8, as: UInt64.self) }
            return entry >> 63 & 1 == 1
        }
    }

    @Test("the never-written pages of read-only file mappings are dropped; written ones stay, and every page reads back")
    func releaseReadOnlyFilePages() throws {
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fogline-pages-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pages = 8
        let contents = (0..<pages * pageSize).map { UInt8(truncatingIfNeeded: $0 / pageSize &* 7 &+ $0) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(contents)))
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        // Private and writable at first, so one page can be written (copied on write), as the
        // dynamic linker relocates a library's data before making it read-only.
        let mapping = try #require(mmap(nil, pages * pageSize, PROT_READ | PROT_WRITE, MAP_PRIVATE, descriptor, 0))
        try #require(mapping != MAP_FAILED)
        defer { munmap(mapping, pages * pageSize) }
        mapping.storeBytes(of: 0xAB, toByteOffset: 2 * pageSize + 5, as: UInt8.self)
        #expect(mprotect(mapping, pages * pageSize, PROT_READ) == 0)
        var expected = contents
        expected[2 * pageSize + 5] = 0xAB
        let bytes = mapping.assumingMemoryBound(to: UInt8.self)
        #expect(Array(UnsafeBufferPointer(start: bytes, count: expected.count)) == expected)
        #expect(try Self.resident(mapping, pages: pages) == Array(repeating: true, count: pages))

        #expect(fogline_release_read_only_file_pages() >= (pages - 1) * pageSize)
        #expect(try Self.resident(mapping, pages: pages) == (0..<pages).map { $0 == 2 }, "only the written page stays")
        #expect(Array(UnsafeBufferPointer(start: bytes, count: expected.count)) == expected, "every page reads back")
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
