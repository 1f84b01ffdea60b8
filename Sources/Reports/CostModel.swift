import Collectives
import Compute
import Foundation
import Hybrid

/// A step-time model of data-parallel and hybrid training, calibrated on this machine's measurements:
///
/// - **compute**: one rank's conv forward, conv backward, FC and update times, measured alone (the sweep's
///   one-rank point). Ranks that share the machine's cores run slower by `max(1, K·threads / cores)`. A
///   hybrid rank's FC work is its 1/K of the neurons for K·B examples: the FLOPs of all neurons for B, so
///   the same time; its update covers the conv layers and 1/K of the FC parameters.
/// - **communication**: every collective of the step's `ParallelPlan`, with its exact message sizes, costs
///   `α · messages + bytes / β` on the link (α and β fitted to allreduce benchmarks on that link and rank
///   count). Compressed gradients send the measured fraction of their fp32 bytes and pay the codec's
///   measured encode and decode throughput.
/// - **overlap**: gradient buckets run on a transfer thread during conv backward, so only what exceeds conv
///   backward is exposed, and never less than the last bucket (it starts when backward ends). Hybrid
///   scheme (b)/(c) rounds: round 0's features are exposed, later rounds only where a transfer outlasts the
///   previous round's FC work; the FC stack's own gathers and reductions block; of the feature-gradient
///   returns the last is exposed. Scheme (a): its one exchange each way is exposed.
public struct CostModel: Sendable {
    /// One rank's compute per step, alone on the machine.
    public struct Compute: Codable, Sendable {
        public var convForward: Double
        public var convBackward: Double
        public var fullyConnected: Double
        /// The optimizer over every parameter (one rank holds them all).
        public var update: Double
        public var batch: Int
        public var threads: Int
    }

    /// A link's fitted cost for a given rank count.
    public struct LinkCost: Codable, Sendable {
        /// Seconds per message step.
        public var alpha: Double
        /// Bytes per second a rank moves.
        public var beta: Double
    }

    /// A codec's measured cost.
    public struct CodecCost: Codable, Sendable {
        public var encodeBytesPerSecond: Double
        public var decodeBytesPerSecond: Double
    }

    /// The predicted phases of one step.
    public struct Prediction: Sendable {
        public var compute = 0.0
        public var exposedCommunication = 0.0
        /// Communication time in all (exposed or not), compression included.
        public var communication = 0.0
        public var compression = 0.0
        public var stepSeconds: Double { compute + exposedCommunication }
    }

    public var model: AlexNet
    public var compute: Compute
    public var cores: Int
    public var codecs: [String: CodecCost]

    public init(model: AlexNet, compute: Compute, cores: Int, codecs: [String: CodecCost]) {
        self.model = model
        self.compute = compute
        self.cores = cores
        self.codecs = codecs
    }

    /// Messages each rank sends in a collective of the plan (ring-like algorithms: K − 1 steps).
    static func messages(_ transfer: ParallelPlan.Transfer, ranks k: Int) -> Double {
        if transfer.collective.hasPrefix("broadcast") || transfer.collective.contains("×K") {
            return Double(k * (k - 1))
        }
        return Double(k - 1)
    }

    /// The step of `configuration` on `ranks` ranks of `batch` examples over `link`.
    /// - Parameters:
    ///   - sharedCores: the ranks share this machine's `cores` (the measured points); false for a cluster of
    ///     dedicated nodes (extrapolation).
    ///   - gradientSentFraction: bytes a compressed gradient sends per fp32 byte (1 without a codec).
    public func predict(
        parallelism: ParallelPlan.Parallelism, scheme: ParallelPlan.Scheme, codec: String, ranks k: Int,
        link: LinkCost, sharedCores: Bool, gradientSentFraction: Double = 1
    ) -> Prediction {
        var p = Prediction()
        let slowdown = sharedCores ? max(1, Double(k * compute.threads) / Double(cores)) : 1
        let plan = ParallelPlan(
            model: model, ranks: k, rank: 0, parallelism: parallelism, scheme: scheme, batchPerRank: compute.batch,
            bucketElements: GradientBuckets.defaultBucketElements)
        let total = Double(model.parameterCount), conv = Double(plan.convParameters)
        let updateShare = parallelism == .data ? 1 : (conv + (total - conv) / Double(k)) / total
        let convBackward = slowdown * compute.convBackward
        let fcRound = slowdown * compute.fullyConnected / Double(scheme == .a ? 1 : k)
        p.compute =
            slowdown
            * (compute.convForward + compute.convBackward + compute.fullyConnected + compute.update * updateShare)
        guard k > 1 else { return p }

        func cost(_ t: ParallelPlan.Transfer, fraction: Double = 1) -> Double {
            link.alpha * CostModel.messages(t, ranks: k) + 4 * Double(t.elements) * fraction / link.beta
        }
        // Gradients: every bucket's reduce-scatter and all-gather, compressed or not, plus the codec's work.
        let gradientTransfers = plan.transfers.filter { $0.channel == .gradients }
        let compressed = codec != "none"
        let fraction = compressed ? gradientSentFraction : 1
        var gradients = gradientTransfers.reduce(0) { $0 + cost($1, fraction: fraction) }
        gradients += link.alpha * Double(2 * (k - 1) * max(0, plan.gradientBuckets.count - 1))
        if compressed, let speed = codecs[codec] {
            let synchronised = 4 * Double(plan.gradientBuckets.reduce(0) { $0 + $1.range.count })
            // Each rank encodes its contribution and its reduced segment, decodes K segments and the result.
            p.compression =
                slowdown
                * (synchronised * (1 + 1 / Double(k)) / speed.encodeBytesPerSecond + 2 * synchronised
                    / speed.decodeBytesPerSecond)
            gradients += p.compression
        }
        let lastBucket =
            plan.gradientBuckets.last.map { Double($0.range.count) / Double(max(1, synchronisedElements(plan))) } ?? 0
        let exposedGradients = max(gradients - convBackward, gradients * lastBucket)
        p.communication = gradients
        p.exposedCommunication = exposedGradients
        guard parallelism == .hybrid else { return p }

        let others = plan.transfers.filter { $0.channel != .gradients }
        let features = others.filter { $0.channel == .features && $0.phase == "conv features" }.reduce(0) {
            $0 + cost($1)
        }
        let returns = others.filter { $0.channel == .features && $0.phase != "conv features" }.reduce(0) {
            $0 + cost($1)
        }
        let classifier = others.filter { $0.channel == .classifier }.reduce(0) { $0 + cost($1) }
        p.communication += features + returns + classifier
        if scheme == .a {
            p.exposedCommunication += features + returns + classifier
        } else {
            let perRound = features / Double(k)
            p.exposedCommunication += perRound + Double(k - 1) * max(0, perRound - fcRound)
            p.exposedCommunication += classifier + returns / Double(k)
        }
        return p
    }

    private func synchronisedElements(_ plan: ParallelPlan) -> Int {
        plan.gradientBuckets.reduce(0) { $0 + $1.range.count }
    }

    /// Fits `seconds ≈ a + bytes / β` by least squares to allreduce timings at one rank count; α is `a`
    /// over the allreduce's 2(K − 1) message steps. Nil with fewer than two distinct sizes.
    public static func fitLink(bytesSent: [Double], seconds: [Double], ranks k: Int) -> LinkCost? {
        let n = Double(bytesSent.count)
        guard bytesSent.count >= 2, k > 1 else { return nil }
        let mx = bytesSent.reduce(0, +) / n, my = seconds.reduce(0, +) / n
        let sxx = zip(bytesSent, bytesSent).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - mx) }
        let sxy = zip(bytesSent, seconds).reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }
        guard sxx > 0, sxy > 0 else { return nil }
        let slope = sxy / sxx
        let intercept = max(0, my - slope * mx)
        return LinkCost(alpha: intercept / Double(2 * (k - 1)), beta: 1 / slope)
    }
}
