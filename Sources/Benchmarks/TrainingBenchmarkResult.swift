import Collectives
import Compute
import Datasets
import Foundation
import Timing
import Training

/// The figures of one benchmarked configuration (JSON keys in snake case).
public struct TrainingBenchmarkResult: Codable, Sendable {
    /// "owt hybrid (b), 4 ranks × 32, codec none"; "owt hybrid (b) in groups of 2, 4 ranks × 32, codec none".
    public var title: String {
        let groups = groupSize > 1 && groupSize < ranks ? " in groups of \(groupSize)" : ""
        return
            "\(variant) \(parallelism)\(scheme.map { " (\($0))" } ?? "")\(groups), \(ranks) ranks × \(batchPerRank), codec \(codec)"
    }

    public var variant: String
    public var parallelism: ParallelPlan.Parallelism
    public var scheme: ParallelPlan.Scheme?
    public var codec: Codec
    public var ranks: Int
    /// G: the ranks sharing each FC layer (1: data parallelism; `ranks`: Krizhevsky's hybrid).
    public var groupSize: Int
    public var batchPerRank: Int
    public var threadsPerRank: Int
    /// Where the images came from: "synthetic", or the prepared shards' directory.
    public var images: String
    public var warmup: Int
    public var steps: Int
    /// Per timed step, the slowest rank's time.
    public var stepSeconds: [Double]
    public var medianStepSeconds: Double
    /// K·B over the median step time.
    public var imagesPerSecond: Double
    /// Every rank's bytes per step, in rank order.
    public var traffic: [TrafficReport]
    /// Every rank's step phases (mean over the timed steps), in rank order.
    public var phases: [StepPhases]
    /// The last timed step's spans on every rank, in rank order, in seconds from that rank's step start.
    public var trace: [[Timeline.Span]]
}
