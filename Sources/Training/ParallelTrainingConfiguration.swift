import Collectives
import Compute

/// A run across K ranks: the single-process recipe (with `batchSize` per rank) plus how the ranks share
/// the work.
public struct ParallelTrainingConfiguration: Sendable {
    /// When the FC shards are updated in the hybrid schemes.
    public enum FullyConnectedUpdate: String, Sendable, CaseIterable {
        /// Once per step, from the gradient of the whole step's K·B examples: the same arithmetic as one
        /// process training with batch K·B.
        case step
        /// After every sub-batch the FC stack sees (B examples in schemes b and c): the 2014 note's
        /// "(128K, 128)" setting.
        case subBatch = "sub-batch"
    }

    /// How a learning rate grows with the batch a layer sees when that batch is K times the per-rank batch.
    public enum LearningRateScaling: String, Sendable, CaseIterable {
        /// ×K (the 2014 note found it worked best).
        case linear
        /// ×√K (the theory's suggestion).
        case sqrt
        /// Unchanged.
        case none

        public func factor(_ ranks: Int) -> Float {
            switch self {
            case .linear: return Float(ranks)
            case .sqrt: return Float(ranks).squareRoot()
            case .none: return 1
            }
        }
    }

    /// The recipe; `batchSize` is per rank, `learningRate` the rate for a batch of that size.
    public var training: TrainingConfiguration
    public var parallelism: ParallelPlan.Parallelism = .hybrid
    public var scheme: ParallelPlan.Scheme = .b
    public var fullyConnectedUpdate: FullyConnectedUpdate = .subBatch
    public var learningRateScaling: LearningRateScaling = .linear
    /// The codec of the replicated layers' gradient allreduce.
    public var codec: Codec = .none
    /// Gradient elements per allreduce bucket (at least; buckets hold whole layers).
    public var bucketElements = GradientBuckets.defaultBucketElements
    /// Run collectives on transfer threads, overlapping compute (needs MPI_THREAD_MULTIPLE under MPI).
    public var overlap = true
    /// Progress lines from every rank, not only rank 0.
    public var verboseRanks = false
    /// Steps between comparisons of the ranks' replicated layers (Note [replica check]; also before every
    /// checkpoint).
    public var replicaCheckEvery = 100
    /// Faults injected on purpose, for tests of the guards (hidden flags).
    public var faults = InjectedFaults()

    /// Faults a run can be told to commit, each at one rank and step (1-based, as progress lines count).
    public struct InjectedFaults: Sendable, Equatable {
        /// The rank stops doing anything at the start of the step, as a stopped or hung process would.
        public var stall: (rank: Int, step: Int)?
        /// The rank's first replicated weight is nudged after the step's update.
        public var replicaDivergence: (rank: Int, step: Int)?
        public init() {}
        public static func == (a: Self, b: Self) -> Bool {
            a.stall?.rank == b.stall?.rank && a.stall?.step == b.stall?.step
                && a.replicaDivergence?.rank == b.replicaDivergence?.rank
                && a.replicaDivergence?.step == b.replicaDivergence?.step
        }
    }

    public init(training: TrainingConfiguration) {
        self.training = training
    }

    /// The learning-rate multipliers of the replicated (conv) and the sharded (FC) layers on `ranks` ranks.
    /// Replicated layers always see K·B examples per update. FC layers see K·B per update when updated once
    /// per step (scheme a, or `--fc-update step`, or `--parallel data`), B when updated per sub-batch.
    public func learningRateFactors(ranks: Int) -> (convolutional: Float, fullyConnected: Float) {
        let scaled = learningRateScaling.factor(ranks)
        let perSubBatch = parallelism == .hybrid && scheme != .a && fullyConnectedUpdate == .subBatch
        return (scaled, perSubBatch ? 1 : scaled)
    }

    /// The plan of rank `rank` of `ranks`. One rank holds every layer whole and exchanges nothing: its plan
    /// is the data schedule whatever `parallelism` says (hybrid on one rank would compute the same numbers
    /// through a one-shard classifier, only slower).
    public func plan(ranks: Int, rank: Int) -> ParallelPlan {
        ParallelPlan(
            model: training.model, ranks: ranks, rank: rank, parallelism: ranks == 1 ? .data : parallelism,
            scheme: scheme, batchPerRank: training.batchSize, bucketElements: bucketElements)
    }

    /// Checks that the plan's ranks can share the work: hybrid needs at most as many ranks as the narrowest
    /// FC layer has outputs, and scheme (c) at least one example per rank and round.
    public func validate(plan: ParallelPlan) throws {
        guard plan.parallelism == .hybrid else { return }
        let k = plan.ranks
        let narrowest = plan.fullyConnected.min { $0.outputs < $1.outputs }!
        guard k <= narrowest.outputs else {
            throw TrainingError(
                "\(k) ranks cannot share \(narrowest.name)'s \(narrowest.outputs) outputs: hybrid parallelism needs at most \(narrowest.outputs) ranks for \(training.model.name) (or use --parallel data)"
            )
        }
        if plan.scheme == .c && training.batchSize < k {
            throw TrainingError(
                "scheme (c) splits each rank's batch into \(k) parts: --batch-size \(training.batchSize) must be at least the \(k) ranks"
            )
        }
    }
}
