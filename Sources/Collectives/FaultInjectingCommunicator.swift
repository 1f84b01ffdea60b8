/// A communicator that forwards to another and damages what this rank sends, to show that receivers
/// detect it (c10d's fake process group, for the same purpose). Used by tests and by the hidden
/// `--inject-fault` flag of `bench allreduce`.
public final class FaultInjectingCommunicator: Communicator {
    public enum Fault: String, Sendable, CaseIterable {
        /// Flip one byte in the middle of every non-empty message this rank sends with `exchangeBytes`
        /// (the compressed allreduce's frames to segment owners).
        case corruptExchangedBytes = "corrupt-frame"
    }

    public let wrapped: Communicator
    public let fault: Fault

    public init(wrapping communicator: Communicator, fault: Fault) {
        wrapped = communicator
        self.fault = fault
    }

    public var rank: Int { wrapped.rank }
    public var size: Int { wrapped.size }

    public func exchangeBytes(_ messages: [[UInt8]], collective: String) throws -> [[UInt8]] {
        let damaged = messages.map { message -> [UInt8] in
            var copy = message
            if !copy.isEmpty { copy[copy.count / 2] ^= 0x5A }
            return copy
        }
        return try wrapped.exchangeBytes(damaged, collective: collective)
    }

    public func allGatherBytes(_ message: [UInt8], collective: String) throws -> [[UInt8]] {
        try wrapped.allGatherBytes(message, collective: collective)
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, collective: String) throws {
        try wrapped.allReduce(buffer, collective: collective)
    }

    public func decline(_ collective: String, because error: Error) throws -> Never {
        try wrapped.decline(collective, because: error)
    }

    public func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws { try wrapped.reduceScatter(input, counts: counts, into: output) }

    public func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws { try wrapped.allGather(input, counts: counts, into: output) }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try wrapped.broadcast(buffer, root: root)
    }

    public func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try wrapped.reduce(buffer, root: root)
    }

    public func allToAll(
        _ input: UnsafeBufferPointer<Float>, sendCounts: [Int], into output: UnsafeMutableBufferPointer<Float>,
        receiveCounts: [Int]
    ) throws { try wrapped.allToAll(input, sendCounts: sendCounts, into: output, receiveCounts: receiveCounts) }

    public func barrier() throws { try wrapped.barrier() }

    public func split(color: Int, key: Int) throws -> Communicator { try wrapped.split(color: color, key: key) }
}
