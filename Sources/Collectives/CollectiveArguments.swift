/// The argument checks every `Communicator` makes before a collective, so both implementations reject the
/// same mistakes with the same messages (naming the rank and the collective).
public struct CollectiveArguments: Sendable {
    public let rank: Int
    public let size: Int

    public init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    public func require(_ condition: Bool, _ collective: String, _ problem: @autoclosure () -> String) throws {
        if !condition { throw CollectiveError(rank: rank, collective: collective, problem: problem()) }
    }

    /// One count per rank, each in 0 … 2³¹ − 1 (MPI's count type).
    public func counts(_ counts: [Int], _ collective: String) throws {
        try require(counts.count == size, collective, "\(counts.count) counts for \(size) ranks")
        try require(
            counts.allSatisfy { $0 >= 0 && $0 <= Int(Int32.max) }, collective, "count outside 0…2³¹−1 in \(counts)")
    }

    public func reduceScatter(input: Int, counts: [Int], output: Int, _ collective: String) throws {
        try self.counts(counts, collective)
        let total = counts.reduce(0, +)
        try require(input == total, collective, "input holds \(input) elements, counts sum to \(total)")
        try require(output >= counts[rank], collective, "output holds \(output) elements, needs \(counts[rank])")
    }

    public func allGather(input: Int, counts: [Int], output: Int, _ collective: String) throws {
        try self.counts(counts, collective)
        let total = counts.reduce(0, +)
        try require(
            input == counts[rank], collective, "input holds \(input) elements, counts[\(rank)] is \(counts[rank])")
        try require(output >= total, collective, "output holds \(output) elements, needs \(total)")
    }

    public func root(_ root: Int, _ collective: String) throws {
        try require((0..<size).contains(root), collective, "root \(root) is outside 0..<\(size)")
    }

    public func allToAll(input: Int, sendCounts: [Int], output: Int, receiveCounts: [Int]) throws {
        try counts(sendCounts, "allToAll")
        try counts(receiveCounts, "allToAll")
        let sent = sendCounts.reduce(0, +), received = receiveCounts.reduce(0, +)
        try require(input >= sent, "allToAll", "input holds \(input) elements, sendCounts sum to \(sent)")
        try require(output >= received, "allToAll", "output holds \(output) elements, receiveCounts sum to \(received)")
    }

    /// One message per rank.
    public func exchangeBytes(messages: Int, _ collective: String) throws {
        try require(messages == size, collective, "\(messages) messages for \(size) ranks")
    }
}
