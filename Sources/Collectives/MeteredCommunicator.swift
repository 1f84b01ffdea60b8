import Foundation

/// A communicator that forwards to another and counts what this rank sends (Note [bytes sent]) on
/// `channel` of `meter`, and records every collective as a communication span "<channel> <collective>" on
/// `timeline`. Sub-communicators split from it are metered on the same channel and timeline.
public final class MeteredCommunicator: Communicator {
    public let wrapped: Communicator
    public let meter: TrafficMeter
    public let channel: String
    public let timeline: Timeline?

    public init(wrapping communicator: Communicator, meter: TrafficMeter, channel: String, timeline: Timeline? = nil) {
        wrapped = communicator
        self.meter = meter
        self.channel = channel
        self.timeline = timeline
    }

    public var rank: Int { wrapped.rank }
    public var size: Int { wrapped.size }

    /// One float collective (`calls` for an allreduce: its reduce-scatter and all-gather) in which this rank
    /// sent `floats`.
    private func sent(floats: Int, calls: Int = 1) { meter.add(channel, fp32: 4 * floats, collectives: calls) }

    private func traced<T>(_ collective: String, _ body: () throws -> T) rethrows -> T {
        guard let timeline else { return try body() }
        return try timeline.record("\(channel) \(collective)", .communication, body)
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, collective: String) throws {
        try traced("allReduce") { try wrapped.allReduce(buffer, collective: collective) }
        let mine = segmentCounts(buffer.count, parts: size)[rank]
        sent(floats: (buffer.count - mine) + mine * (size - 1), calls: 2)
    }

    public func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        try traced("reduceScatter") { try wrapped.reduceScatter(input, counts: counts, into: output) }
        sent(floats: counts.reduce(0, +) - counts[rank])
    }

    public func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        try traced("allGather") { try wrapped.allGather(input, counts: counts, into: output) }
        sent(floats: counts[rank] * (size - 1))
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try traced("broadcast") { try wrapped.broadcast(buffer, root: root) }
        sent(floats: rank == root ? buffer.count * (size - 1) : 0)
    }

    public func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try traced("reduce") { try wrapped.reduce(buffer, root: root) }
        sent(floats: rank != root ? buffer.count : 0)
    }

    public func allToAll(
        _ input: UnsafeBufferPointer<Float>, sendCounts: [Int], into output: UnsafeMutableBufferPointer<Float>,
        receiveCounts: [Int]
    ) throws {
        try traced("allToAll") {
            try wrapped.allToAll(input, sendCounts: sendCounts, into: output, receiveCounts: receiveCounts)
        }
        sent(floats: sendCounts.reduce(0, +) - sendCounts[rank])
    }

    public func exchangeBytes(_ messages: [[UInt8]], collective: String) throws -> [[UInt8]] {
        let received = try traced(collective) { try wrapped.exchangeBytes(messages, collective: collective) }
        let bytes = messages.enumerated().reduce(0) { $0 + ($1.offset == rank ? 0 : $1.element.count) }
        meter.add(channel, encoded: bytes)
        return received
    }

    public func allGatherBytes(_ message: [UInt8], collective: String) throws -> [[UInt8]] {
        let received = try traced(collective) { try wrapped.allGatherBytes(message, collective: collective) }
        meter.add(channel, encoded: message.count * (size - 1))
        return received
    }

    public func barrier() throws { try traced("barrier") { try wrapped.barrier() } }

    public func decline(_ collective: String, because error: Error) throws -> Never {
        try wrapped.decline(collective, because: error)
    }

    public func split(color: Int, key: Int) throws -> Communicator {
        MeteredCommunicator(
            wrapping: try wrapped.split(color: color, key: key), meter: meter, channel: channel, timeline: timeline)
    }
}
