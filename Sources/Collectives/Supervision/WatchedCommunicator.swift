/// A communicator that forwards to another and marks every collective on the rank's `RankStatus` while it
/// waits in it, so that the rank's watchdog can tell a stalled collective (and the other ranks' watchdogs
/// what this rank is doing). Sub-communicators split from it are watched on the same status.
public final class WatchedCommunicator: Communicator {
    public let wrapped: Communicator
    public let status: RankStatus

    public init(wrapping communicator: Communicator, status: RankStatus) {
        wrapped = communicator
        self.status = status
    }

    public var rank: Int { wrapped.rank }
    public var size: Int { wrapped.size }

    private func watched<T>(_ collective: String, _ body: () throws -> T) rethrows -> T {
        let wait = status.enter(collective)
        defer { status.leave(wait) }
        return try body()
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, collective: String) throws {
        try watched(collective) { try wrapped.allReduce(buffer, collective: collective) }
    }

    public func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        try watched("reduceScatter") { try wrapped.reduceScatter(input, counts: counts, into: output) }
    }

    public func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        try watched("allGather") { try wrapped.allGather(input, counts: counts, into: output) }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try watched("broadcast") { try wrapped.broadcast(buffer, root: root) }
    }

    public func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try watched("reduce") { try wrapped.reduce(buffer, root: root) }
    }

    public func allToAll(
        _ input: UnsafeBufferPointer<Float>, sendCounts: [Int], into output: UnsafeMutableBufferPointer<Float>,
        receiveCounts: [Int]
    ) throws {
        try watched("allToAll") {
            try wrapped.allToAll(input, sendCounts: sendCounts, into: output, receiveCounts: receiveCounts)
        }
    }

    public func exchangeBytes(_ messages: [[UInt8]], collective: String) throws -> [[UInt8]] {
        try watched(collective) { try wrapped.exchangeBytes(messages, collective: collective) }
    }

    public func allGatherBytes(_ message: [UInt8], collective: String) throws -> [[UInt8]] {
        try watched(collective) { try wrapped.allGatherBytes(message, collective: collective) }
    }

    public func barrier() throws { try watched("barrier") { try wrapped.barrier() } }

    public func decline(_ collective: String, because error: Error) throws -> Never {
        let wait = status.enter(collective)
        defer { status.leave(wait) }
        try wrapped.decline(collective, because: error)
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        WatchedCommunicator(
            wrapping: try watched("split") { try wrapped.split(color: color, key: key) }, status: status)
    }
}
