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
/// under `encoded`. `collectives` counts the float collectives a rank takes part in, whether or not it sends
/// (a broadcast's receivers too), an allreduce as its reduce-scatter and all-gather: the plan's `calls`.
public final class TrafficMeter: @unchecked Sendable {
    /// Bytes sent on one channel.
    public struct Counts: Sendable, Equatable, Codable {
        /// Bytes of `Float` collectives.
        public var fp32 = 0
        /// Bytes of byte messages (compressed frames, control messages).
        public var encoded = 0
        /// Float collectives taken part in.
        public var collectives = 0
        public var total: Int { fp32 + encoded }

        public init(fp32: Int = 0, encoded: Int = 0, collectives: Int = 0) {
            self.fp32 = fp32
            self.encoded = encoded
            self.collectives = collectives
        }

        public static func + (a: Counts, b: Counts) -> Counts {
            Counts(fp32: a.fp32 + b.fp32, encoded: a.encoded + b.encoded, collectives: a.collectives + b.collectives)
        }

        public static func - (a: Counts, b: Counts) -> Counts {
            Counts(fp32: a.fp32 - b.fp32, encoded: a.encoded - b.encoded, collectives: a.collectives - b.collectives)
        }
    }

    private let lock = NSLock()
    private var counts: [String: Counts] = [:]

    public init() {}

    /// Every channel's counts so far.
    public var snapshot: [String: Counts] { lock.withLock { counts } }

    func add(_ channel: String, fp32: Int = 0, encoded: Int = 0, collectives: Int = 0) {
        lock.withLock {
            counts[channel, default: Counts()].fp32 += fp32
            counts[channel, default: Counts()].encoded += encoded
            counts[channel, default: Counts()].collectives += collectives
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
