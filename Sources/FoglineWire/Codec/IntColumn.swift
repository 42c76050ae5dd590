/// Builds a run-length encoded delta column (`IntColumn` in `fogline.proto`) from a sequence
/// of 64-bit integers.
///
/// The column is a list of runs, each a triple (first, step, length): the run's values are
/// `previous + first, + step, + step, …` (`length` values, wrapping arithmetic), where `previous`
/// is the last value of the preceding run (0 before the first run). Constant stretches and
/// arithmetic progressions (consecutive dot counters, a device's fields in table order) take three
/// small varints however long they are. Unsigned values are appended as their bit pattern
/// (`Int64(bitPattern:)`) and come back unchanged.
///
/// Runs are found greedily: a run takes its second value to fix its step and grows while the
/// values keep that step.
public struct IntColumnEncoder: Sendable {
    private var runs: [Int64] = []
    /// Last value of the last finished run.
    private var previousLast: Int64 = 0
    /// The open run: its first and last values, step and length (0 = no open run).
    private var first: Int64 = 0
    private var last: Int64 = 0
    private var step: Int64 = 0
    private var length: Int64 = 0

    /// Number of values appended so far.
    public private(set) var count: Int = 0

    public init() {}

    /// Appends one value.
    @inline(__always)
    public mutating func append(_ value: Int64) {
        count &+= 1
        if length >= 2 {
            if value &- last == step {
                last = value
                length &+= 1
                return
            }
            flush()
            first = value
            last = value
            length = 1
        } else if length == 1 {
            step = value &- last
            last = value
            length = 2
        } else {
            first = value
            last = value
            length = 1
        }
    }

    /// Appends the bit pattern of an unsigned value.
    @inline(__always)
    public mutating func append(_ value: UInt64) {
        append(Int64(bitPattern: value))
    }

    /// Appends every value of `values`.
    public mutating func append(contentsOf values: some Sequence<Int64>) {
        for value in values { append(value) }
    }

    /// The runs as (first, step, length) triples, flattened: the `runs` field of an `IntColumn`.
    public mutating func finish() -> [Int64] {
        if length > 0 { flush() }
        return runs
    }

    /// The runs of `values` (a convenience for one-shot encoding).
    public static func runs(of values: some Sequence<Int64>) -> [Int64] {
        var encoder = IntColumnEncoder()
        encoder.append(contentsOf: values)
        return encoder.finish()
    }

    /// Bytes the packed `runs` field payload takes on the wire (zigzag varints), used to pick
    /// the smaller of two encodings.
    public static func encodedSize(of runs: [Int64]) -> Int {
        var size = 0
        for value in runs {
            let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
            // 1 byte per 7 bits, at least 1.
            size &+= (64 - (zigzag | 1).leadingZeroBitCount + 6) / 7
        }
        return size
    }

    private mutating func flush() {
        runs.append(first &- previousLast)
        runs.append(length == 1 ? 0 : step)
        runs.append(length)
        previousLast = last
        length = 0
    }
}

/// Expands run-length encoded delta columns (see ``IntColumnEncoder``), validating them first:
/// the total length is computed and checked against the caller's limit before anything is
/// allocated, so a column of a few bytes that claims 2^40 values is rejected cheaply.
public enum IntColumnDecoder {
    /// The number of values `runs` expands to, after checking that they are well-formed triples
    /// with lengths >= 1 and that the total does not exceed `maxLength`. Allocates nothing.
    public static func length(of runs: [Int64], maxLength: Int) throws(WireError) -> Int {
        guard runs.count % 3 == 0 else {
            throw .invalidValue(what: "a run-length column whose runs are not (first, step, length) triples")
        }
        let limit = max(0, maxLength)
        var total = 0
        var index = 2
        while index < runs.count {
            let length = runs[index]
            guard length >= 1 else {
                throw .invalidValue(what: "a run of length \(length) in a run-length column (runs hold at least one value)")
            }
            // `total <= limit` holds here, so `limit - total` cannot overflow.
            guard length <= Int64(limit - total) else {
                throw .limitExceeded(what: "values in one column", limit: limit)
            }
            total += Int(length)
            index += 3
        }
        return total
    }

    /// The values of `runs`; throws if they exceed `maxLength` values.
    public static func decode(_ runs: [Int64], maxLength: Int) throws(WireError) -> [Int64] {
        let total = try length(of: runs, maxLength: maxLength)
        return expand(runs, total: total)
    }

    /// The values of `runs`, which must be exactly `exactLength` values (a column parallel to a
    /// table or to another column); `maxLength` bounds what is allocated in any case.
    static func decode(_ runs: [Int64], exactLength: Int, maxLength: Int, what: String) throws(WireError) -> [Int64] {
        let total = try length(of: runs, maxLength: maxLength)
        guard total == exactLength else {
            throw .invalidValue(what: "column `\(what)` has \(total) values where \(exactLength) are expected")
        }
        return expand(runs, total: total)
    }

    /// Expands validated runs whose lengths add up to `total`.
    private static func expand(_ runs: [Int64], total: Int) -> [Int64] {
        if total == 0 { return [] }
        return [Int64](unsafeUninitializedCapacity: total) { buffer, initialized in
            var position = 0
            var previous: Int64 = 0
            var index = 0
            while index < runs.count {
                let step = runs[index + 1]
                let length = Int(runs[index + 2])
                var value = previous &+ runs[index]
                buffer.initializeElement(at: position, to: value)
                position += 1
                var remaining = length - 1
                while remaining > 0 {
                    value &+= step
                    buffer.initializeElement(at: position, to: value)
                    position += 1
                    remaining -= 1
                }
                previous = value
                index += 3
            }
            initialized = position
        }
    }
}
