import FoglineTesting

/// The links between simulated nodes: each message is dropped, duplicated and delayed at random
/// (random delays reorder), and blocked while a partition separates its direction.
struct SimulatedNetwork: Sendable {
    struct Faults: Sendable {
        var dropRate = 0.05
        var duplicateRate = 0.03
        var delayMilliseconds: ClosedRange<UInt64> = 1...25
    }

    /// The partitions a run switches between. `blocked` holds directed links (from, to).
    enum Partition: CustomStringConvertible, Sendable {
        case none
        /// One node cut off both ways.
        case isolated(Int)
        /// One node can send to the others but hears nothing back.
        case oneWay(Int)
        /// Two halves that cannot talk, joined only through one bridge node.
        case bridge(left: [Int], bridge: Int, right: [Int])
        /// `side` cut off from everyone else, both ways.
        case split(side: [Int])

        var description: String {
            switch self {
            case .none: "none"
            case .isolated(let node): "isolated(\(node))"
            case .oneWay(let node): "deaf(\(node))"
            case .bridge(let left, let bridge, let right): "bridge(\(left)|\(bridge)|\(right))"
            case .split(let side): "split(\(side))"
            }
        }

        func blocks(from: Int, to: Int) -> Bool {
            switch self {
            case .none: false
            case .isolated(let node): (from == node) != (to == node)
            case .oneWay(let node): to == node && from != node
            case .bridge(let left, _, let right):
                (left.contains(from) && right.contains(to)) || (right.contains(from) && left.contains(to))
            case .split(let side): side.contains(from) != side.contains(to)
            }
        }

        static func random(nodes: Int, using random: inout SeededRandom) -> Partition {
            switch random.int(in: 0...3) {
            case 0: return .none
            case 1: return .isolated(random.int(in: 0...(nodes - 1)))
            case 2: return .oneWay(random.int(in: 0...(nodes - 1)))
            default:
                var order = Array(0..<nodes)
                order.shuffle(using: &random)
                let bridge = order.removeFirst()
                return .bridge(left: Array(order[..<(order.count / 2)]), bridge: bridge, right: Array(order[(order.count / 2)...]))
            }
        }
    }

    var faults = Faults()
    var partition = Partition.none

    /// The delivery delays of one send: empty when the message is lost, two when duplicated.
    mutating func deliveries(from: Int, to: Int, using random: inout SeededRandom) -> [UInt64] {
        if from == to { return [0] }  // a node's proposer talks to its own acceptor directly
        if partition.blocks(from: from, to: to) || random.chance(faults.dropRate) { return [] }
        let copies = random.chance(faults.duplicateRate) ? 2 : 1
        return (0..<copies).map { _ in UInt64(random.int(in: Int(faults.delayMilliseconds.lowerBound)...Int(faults.delayMilliseconds.upperBound))) }
    }
}
