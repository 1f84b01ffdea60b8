import Foundation

/// What one rank sent through metered communicators, by channel (a name the caller gives each
/// communicator, for example "features" or "gradients"). Thread-safe: transfer threads add to it while the
/// caller reads snapshots.
///
/// ## Note [bytes sent]
///
/// A rank's bytes "sent" count each payload once per rank it is delivered to, attributed to the rank it
/// comes from, whatever algorithm the implementation uses to move it (a ring, a tree, shared memory):
///
/// - all-gather: this rank's segment × (K − 1);
/// - reduce-scatter: the other ranks' segments (Σ counts − own);
/// - allreduce: a reduce-scatter then an all-gather over `segmentCounts` (≈ 2(K − 1)/K of the buffer, a
///   ring allreduce's traffic);
/// - broadcast: the buffer × (K − 1) on the root, nothing elsewhere; reduce: the buffer on every other rank;
/// - all-to-all and byte exchanges: what is addressed to other ranks.
///
/// `ParallelPlan` predicts the same quantity, so the two can be compared exactly. Float collectives are
/// counted under `fp32`; byte messages (compressed frames and the small control messages that go with them)
/// under `encoded`.
public final class TrafficMeter: @unchecked Sendable {
    /// Bytes sent on one channel.
    public struct Counts: Sendable, Equatable, Codable {
        /// Bytes of `Float` collectives.
        public var fp32 = 0
        /// Bytes of byte messages (compressed frames, control messages).
        public var encoded = 0
        public var total: Int { fp32 + encoded }

        public init(fp32: Int = 0, encoded: Int = 0) {
            self.fp32 = fp32
            self.encoded = encoded
        }

        public static func + (a: Counts, b: Counts) -> Counts {
            Counts(fp32: a.fp32 + b.fp32, encoded: a.encoded + b.encoded)
        }

        public static func - (a: Counts, b: Counts) -> Counts {
            Counts(fp32: a.fp32 - b.fp32, encoded: a.encoded - b.encoded)
        }
    }

    private let lock = NSLock()
    private var counts: [String: Counts] = [:]

    public init() {}

    /// Every channel's counts so far.
    public var snapshot: [String: Counts] { lock.withLock { counts } }

    func add(_ channel: String, fp32: Int = 0, encoded: Int = 0) {
        lock.withLock {
            counts[channel, default: Counts()].fp32 += fp32
            counts[channel, default: Counts()].encoded += encoded
        }
    }

    /// `after − before`, channel by channel.
    public static func difference(_ after: [String: Counts], _ before: [String: Counts]) -> [String: Counts] {
        var result = after
        for (channel, counts) in before {
            result[channel, default: Counts()] = result[channel, default: Counts()] - counts
        }
        return result
    }
}

/// A byte count for people: "77.01 MB", "12.3 KB", "24 B".
public func formatBytes(_ bytes: Double) -> String {
    if bytes >= 1e6 { return String(format: "%.2f MB", bytes / 1e6) }
    if bytes >= 1e3 { return String(format: "%.1f KB", bytes / 1e3) }
    return String(format: "%.0f B", bytes)
}

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

    private func sent(floats: Int) { meter.add(channel, fp32: 4 * floats) }

    private func traced<T>(_ collective: String, _ body: () throws -> T) rethrows -> T {
        guard let timeline else { return try body() }
        return try timeline.record("\(channel) \(collective)", .communication, body)
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try traced("allReduce") { try wrapped.allReduce(buffer) }
        let mine = segmentCounts(buffer.count, parts: size)[rank]
        sent(floats: (buffer.count - mine) + mine * (size - 1))
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
        if rank == root { sent(floats: buffer.count * (size - 1)) }
    }

    public func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try traced("reduce") { try wrapped.reduce(buffer, root: root) }
        if rank != root { sent(floats: buffer.count) }
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

    public func split(color: Int, key: Int) throws -> Communicator {
        MeteredCommunicator(
            wrapping: try wrapped.split(color: color, key: key), meter: meter, channel: channel, timeline: timeline)
    }
}
