/// A fixed-size bitset of operation indices: the "already linearized" part of the checker's
/// memoisation key (Lowe), cheap to hash and compare.
struct OperationSet: Hashable, Sendable {
    private var words: [UInt64]

    init(capacity: Int) {
        words = Array(repeating: 0, count: (capacity + 63) / 64)
    }

    func contains(_ index: Int) -> Bool {
        words[index >> 6] & (1 << UInt64(index & 63)) != 0
    }

    mutating func insert(_ index: Int) {
        words[index >> 6] |= 1 << UInt64(index & 63)
    }

    mutating func remove(_ index: Int) {
        words[index >> 6] &= ~(1 << UInt64(index & 63))
    }

    func inserting(_ index: Int) -> OperationSet {
        var copy = self
        copy.insert(index)
        return copy
    }
}
