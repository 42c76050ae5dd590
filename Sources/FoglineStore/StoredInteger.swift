/// How 64-bit unsigned values are kept in SQL integers, which are signed 64-bit (SQLite here, and
/// the aggregator's SQLite and PostgreSQL stores).
///
/// Two encodings, chosen per column and documented in ``StoreSchema``:
///
/// - **order-preserving** (`sortable`): the top bit is flipped, so the signed order of stored
///   values is the unsigned order of the originals. Used for node ids (random 64-bit hashes, half
///   of them above `Int64.max`) and HLC logical times, because the upserts compare them in SQL
///   (`(excluded.logical, excluded.writer) > (logical, writer)`) and must agree with Swift's
///   `HLCTimestamp` order for every value, including clocks clamped at the year 10889.
/// - **bit pattern** (`bits`): the same 64 bits read as signed. Used for counters, sequence
///   numbers, dot counters and milliseconds: they are far below 2^63 in practice (device `seq` is
///   at most 2^53 on the wire), so they read naturally in `sqlite3` and still round-trip exactly.
public enum StoredInteger {
    private static let signBit: UInt64 = 1 << 63

    @inline(__always)
    public static func sortable(_ value: UInt64) -> Int64 { Int64(bitPattern: value ^ signBit) }

    @inline(__always)
    public static func fromSortable(_ stored: Int64) -> UInt64 { UInt64(bitPattern: stored) ^ signBit }

    @inline(__always)
    public static func bits(_ value: UInt64) -> Int64 { Int64(bitPattern: value) }

    @inline(__always)
    public static func fromBits(_ stored: Int64) -> UInt64 { UInt64(bitPattern: stored) }
}
