/// Interns strings (field and metric names) as small integers, so entries that repeat a name
/// millions of times store four bytes instead of a `String`. Symbols are local to one table;
/// anything that leaves the process uses the names.
public struct SymbolTable: Sendable {
    public private(set) var names: [String] = []
    private var symbols: [String: UInt32] = [:]

    public init() {}

    public mutating func intern(_ name: String) -> UInt32 {
        if let symbol = symbols[name] { return symbol }
        let symbol = UInt32(names.count)
        names.append(name)
        symbols[name] = symbol
        return symbol
    }

    public func symbol(for name: String) -> UInt32? { symbols[name] }

    @inlinable
    public func name(of symbol: UInt32) -> String { names[Int(symbol)] }

    public var count: Int { names.count }
}
