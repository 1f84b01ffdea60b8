import Collectives
import Compute
import Foundation
import Training

/// A step-time model of data-parallel and hybrid training, calibrated on this machine's measurements:
///
/// - **compute**: one rank's conv forward, conv backward, FC and update times, measured alone (the sweep's
///   one-rank point). Ranks that share the machine's cores run slower by `max(1, K·threads / cores)`. With
///   the FC layers sharded within groups of G ranks, a rank's FC work is its 1/G of the neurons for G·B
///   examples: the FLOPs of all neurons for B, so the same time; its update covers the conv layers and 1/G
///   of the FC parameters.
/// - **communication**: every collective of the step's `ParallelPlan` (the group's over G ranks, the conv
///   gradients' over K, the FC shards' gradients over the K/G groups), with its exact message sizes, costs
///   `α · messages + bytes / β` on the link (α and β fitted to allreduce benchmarks on that link and rank
///   count). Compressed gradients send the measured fraction of their fp32 bytes and pay the codec's
///   measured encode and decode throughput.
/// - **overlap**: gradient buckets run on a transfer thread during conv backward, so only what exceeds conv
///   backward is exposed, and never less than the last bucket (it starts when backward ends); the FC
///   shards' buckets start when the FC backward ends, so they hide behind the conv backward too. Scheme
///   (b)/(c) rounds (G per step): round 0's features are exposed, later rounds only where a transfer outlasts the
///   previous round's FC work; the FC stack's own gathers and reductions block; of the feature-gradient
///   returns the last is exposed. Scheme (a): its one exchange each way is exposed.
/// - **busy cores** (the measured points, whose ranks share this machine): a transfer takes CPU from its
///   rank's compute, which stretches the backward it overlaps: over TCP the kernel's work per byte of the
///   gradient streams (Note [stolen by overlapped transfers]), and the codec's work at a share φ of the core;
///   on shared memory the copies, sums and codec work are CPU time shared like the compute's (Note
///   [oversubscribed cores]); every message step waits α_load for a core.
///
/// Note [stolen by overlapped transfers]: over TCP the kernel's work per byte (γ) slows the compute only for the
/// transfers that run while it computes: the gradient streams, on the transfer thread during the backward. The
/// FC stack's exchanges block the compute thread, so their CPU time is part of the time they take, which the
/// calibration's idle allreduce measured with the same kernel work: charging γ for them as well counted it
/// twice and made the layouts that exchange features (hybrid, scheme (a) most) look slower than the ones that
/// overlap their bytes (FC shards across groups). Measured (owt, 32 per rank, 8 hosts at 1 Gbit/s, dilated 5×,
/// AMD Zen 4): G = 4 sends 89.7 MB a step, 59 MB of it FC shard gradients during the backward, and its conv
/// backward took 1.12 s against 0.88 s for hybrid (a), which sends 49.4 MB, all of it blocking. With every byte
/// charged the model ranked G = 4 first on the Zen 3 sweep in docs/scaling (2.48 s predicted) where it ran 19%
/// slower than hybrid (a); charging the overlapped bytes only, the model's layout is within 5% of the fastest at
/// all 9 links and rank counts of that sweep, and at 10 of 12 rather than 9 on the Intel Xeon sweep before it.
///
/// Note [one-sided rounds]: in scheme (b) round j feeds the FC stack member j's B examples only, so the
/// round's exchanges have one sender or one receiver. The features go out as an all-gather with one non-empty
/// segment, which `MPICommunicator` leaves to `MPI_Allgatherv` (a ring would forward the block K − 1 times in
/// turn); Open MPI runs it as a neighbour exchange on an even G (the block crosses G/2 links one after
/// another, two at a time) and a ring on an odd one (G − 1): `hops` × B·F per round. The feature gradients
/// come back to member j from all G − 1 others through member j's link: (G − 1) × B·F per round. Both are
/// G times what a rank sends on average, and the time follows the busiest link, not the average. Measured
/// (owt, 32 per rank, 8 hosts emulated at 500 Mbit/s): a round's features took 300–450 ms of raw trace time
/// (4 hops of 1.18 MB at 125 Mbit/s: 302 ms), and scheme (b) 3.57 s per step against scheme (c)'s 2.44 s,
/// whose rounds are balanced. Schemes (a) and (c) send equal segments: their time is the average's.
///
/// Note [oversubscribed cores]: with as many ranks as cores or more on shared memory (K·threads ≥ cores,
/// undilated) every core always has a compute thread to run, so a transfer hides behind nothing and waits
/// for nothing either: its copies and sums, and the codec's work, are CPU time the ranks' threads share like
/// the compute's. The step is the compute plus that work (`sharedMemorySecondsPerByte` per byte a rank
/// sends, fitted: the calibration's allreduce, timed with nothing else to run, also holds waits that busy
/// cores fill), slowed K·threads/cores times, plus the last bucket's transfer, which starts when the backward
/// ends. Measured before this term (owt, 32 per rank, 2 cores): data parallelism took 2.28 s per step on 4
/// ranks against 2.99 s predicted with the gradients' whole allreduce exposed, and 1.10 s on 2 ranks against
/// 1.27 s with the copies priced at the idle link's rate. Over TCP the link, not the cores, sets the pace:
/// with more ranks than cores the gradients' whole time is exposed.
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

        public init(
            convForward: Double, convBackward: Double, fullyConnected: Double, update: Double, batch: Int, threads: Int
        ) {
            self.convForward = convForward
            self.convBackward = convBackward
            self.fullyConnected = fullyConnected
            self.update = update
            self.batch = batch
            self.threads = threads
        }
    }

    /// A link's fitted cost for a given rank count.
    public struct LinkCost: Codable, Sendable, Equatable {
        /// Seconds per message step.
        public var alpha: Double
        /// Bytes per second a rank moves.
        public var beta: Double

        public init(alpha: Double, beta: Double) {
            self.alpha = alpha
            self.beta = beta
        }
    }

    /// A codec's measured cost.
    public struct CodecCost: Codable, Sendable {
        public var encodeBytesPerSecond: Double
        public var decodeBytesPerSecond: Double
        /// Bytes sent per fp32 byte on real gradients (`bench allreduce` on captured gradients); nil where it
        /// was not measured.
        public var sentFraction: Double?
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
    public var codecs: [Codec: CodecCost]
    /// What busy cores cost the ranks that share them: fitted to the measured points (`fitLoad`); idle for a
    /// cluster of dedicated nodes.
    public var load = Load.idle

    public init(model: AlexNet, compute: Compute, cores: Int, codecs: [Codec: CodecCost]) {
        self.model = model
        self.compute = compute
        self.cores = cores
        self.codecs = codecs
    }

    /// What a rank's plan sends per step, summed into the groups the model prices: message steps and fp32
    /// elements per group. It depends on the layout and rank count only, so a caller predicting the same
    /// layout many times (fitting the load parameters) computes it once.
    public struct PlanTraffic: Sendable {
        /// One gradient allreduce stream: the replicated layers' over all K ranks, or the FC shards' over the
        /// K/G ranks holding the same shard (stride G).
        public struct Gradients: Sendable {
            /// The ranks summing, and the distance between them.
            public var ranks: Int
            public var stride: Int
            /// fp32 elements a rank contributes (the codec's work) and sends (the plan's transfers).
            public var synchronisedElements = 0.0
            public var sentElements = 0.0
            /// Message steps, uncompressed and compressed.
            public var steps = 0.0
            public var compressedSteps = 0.0
        }

        public var ranks: Int
        /// G: the ranks sharing each FC layer (1: data parallelism; K: Krizhevsky's hybrid).
        public var groupSize: Int
        public var scheme: ParallelPlan.Scheme
        /// When the FC shards are updated, as the plan resolved it.
        public var fullyConnectedUpdate: ParallelTrainingConfiguration.FullyConnectedUpdate
        /// The update's share of one rank's (replicated conv, and 1/G of the FC once per step, or all G rounds
        /// of its 1/G per sub-batch).
        public var updateShare: Double
        /// The replicated layers' allreduce and the FC shards' (where there is more than one group).
        public var gradients: [Gradients] = []
        /// The last replicated bucket's share of every synchronised element: it starts when backward ends.
        public var lastBucketShare = 0.0
        /// Within a group: the feature exchange, the feature-gradient returns and the FC stack's own
        /// collectives: message steps, elements a rank sends, and elements that cross the busiest link one
        /// after another (what the time depends on; Note [one-sided rounds]).
        public var features = (steps: 0.0, elements: 0.0, serial: 0.0)
        public var returns = (steps: 0.0, elements: 0.0, serial: 0.0)
        public var classifier = (steps: 0.0, elements: 0.0, serial: 0.0)

        public var parallelism: ParallelPlan.Parallelism { groupSize == 1 ? .data : .hybrid }
        public var synchronisedElements: Double { gradients.reduce(0) { $0 + $1.synchronisedElements } }
        public var gradientElements: Double { gradients.reduce(0) { $0 + $1.sentElements } }
        /// Bytes a rank sends per step, gradients at `gradientSentFraction` of fp32.
        public func bytesSent(gradientSentFraction: Double = 1) -> Double {
            4 * (gradientElements * gradientSentFraction + features.elements + returns.elements + classifier.elements)
        }
    }

    /// The traffic of rank 0 of `k` ranks whose FC layers are sharded within groups of `groupSize` (a
    /// divisor of `k`), fed by `scheme`, at this model and batch; `fullyConnectedUpdate` as asked for (the
    /// plan resolves it: per sub-batch only for one group fed in rounds).
    public func traffic(
        groupSize g: Int, scheme: ParallelPlan.Scheme, ranks k: Int,
        fullyConnectedUpdate: ParallelTrainingConfiguration.FullyConnectedUpdate = .subBatch
    ) -> PlanTraffic {
        let plan = ParallelPlan(
            model: model, ranks: k, groupSize: g, rank: 0, scheme: scheme, batchPerRank: compute.batch,
            bucketElements: GradientBuckets.defaultBucketElements, fullyConnectedUpdate: fullyConnectedUpdate)
        let total = Double(model.parameterCount), conv = Double(plan.convParameters)
        let rounds = plan.fullyConnectedUpdate == .subBatch ? Double(g) : 1
        var t = PlanTraffic(
            ranks: k, groupSize: g, scheme: scheme, fullyConnectedUpdate: plan.fullyConnectedUpdate,
            updateShare: g == 1 ? 1 : (conv + rounds * (total - conv) / Double(g)) / total)
        guard k > 1 else { return t }
        for (buckets, parts, stride, channel) in [
            (plan.gradientBuckets, k, 1, ParallelPlan.Channel.gradients),
            (plan.shardGradientBuckets, plan.groups, g, .shardGradients),
        ] {
            let sizes = buckets.map(\.range.count)
            guard parts > 1, !sizes.isEmpty else { continue }
            var part = PlanTraffic.Gradients(ranks: parts, stride: stride)
            part.synchronisedElements = Double(sizes.reduce(0, +))
            part.sentElements = Double(plan.transfers.filter { $0.channel == channel }.reduce(0) { $0 + $1.elements })
            part.steps = sizes.reduce(0) { $0 + CostModel.allReduceSteps($1, ranks: parts, compressed: false) }
            part.compressedSteps = sizes.reduce(0) { $0 + CostModel.allReduceSteps($1, ranks: parts, compressed: true) }
            t.gradients.append(part)
        }
        let last = plan.gradientBuckets.last.map(\.range.count) ?? 0
        t.lastBucketShare = Double(last) / max(1, t.synchronisedElements)
        // Scheme (b)'s rounds are one-sided (Note [one-sided rounds]): one member's B·F features go to the
        // others in `hops` transfers of the whole block, and its feature gradients come back from all G − 1
        // others through its own link.
        let oneSided = scheme == .b && g > 1
        let hops = CostModel.oneSidedHops(g)
        for transfer in plan.transfers {
            let elements = Double(transfer.elements)
            // The group's own collectives run over its G ranks.
            let steps = CostModel.steps(transfer, ranks: g)
            switch transfer.channel {
            case .gradients, .shardGradients:
                break
            case .features where transfer.phase == .convFeatures:
                // Per round a rank sends (G − 1)/G of a block on average; the block crosses `hops` links in turn.
                let serial = oneSided ? elements * Double(g) * hops / Double(g - 1) : elements
                t.features = (t.features.steps + steps, t.features.elements + elements, t.features.serial + serial)
            case .features:
                // Per round the round's member receives G − 1 partial gradients of its B rows.
                let serial = oneSided ? elements * Double(g) : elements
                t.returns = (t.returns.steps + steps, t.returns.elements + elements, t.returns.serial + serial)
            case .classifier:
                t.classifier = (
                    t.classifier.steps + steps, t.classifier.elements + elements, t.classifier.serial + elements
                )
            }
        }
        return t
    }

    /// The step of `k` ranks whose FC layers are sharded within groups of `groupSize`, fed by `scheme`, with
    /// `codec` on the gradient allreduces, over `link` between every pair of ranks.
    /// - Parameters:
    ///   - sharedCores: the ranks share this machine's `cores` (the measured points); false for a cluster of
    ///     dedicated nodes (extrapolation).
    ///   - gradientSentFraction: bytes a compressed gradient sends per fp32 byte (1 without a codec).
    public func predict(
        groupSize: Int, scheme: ParallelPlan.Scheme, codec: Codec, ranks k: Int, link: LinkCost,
        sharedCores: Bool, gradientSentFraction: Double = 1, overTCP: Bool = false
    ) -> Prediction {
        predict(
            traffic(groupSize: groupSize, scheme: scheme, ranks: k), codec: codec, network: .flat(link),
            sharedCores: sharedCores, gradientSentFraction: gradientSentFraction, overTCP: overTCP)
    }

    /// The step of the layout whose traffic is `t` over one link between every pair of ranks.
    public func predict(
        _ t: PlanTraffic, codec: Codec, link: LinkCost, sharedCores: Bool, gradientSentFraction: Double = 1,
        overTCP: Bool = false
    ) -> Prediction {
        predict(
            t, codec: codec, network: .flat(link), sharedCores: sharedCores,
            gradientSentFraction: gradientSentFraction, overTCP: overTCP)
    }

    /// The step of the layout whose traffic is `t` on `network` (each collective on the link its ranks'
    /// placement gives it).
    public func predict(
        _ t: PlanTraffic, codec: Codec, network: Network, sharedCores: Bool, gradientSentFraction: Double = 1,
        overTCP: Bool = false
    ) -> Prediction {
        var p = Prediction()
        let k = t.ranks, g = t.groupSize
        let slowdown = sharedCores ? self.slowdown(ranks: k) : 1
        var convBackward = slowdown * compute.convBackward
        let fcRound = slowdown * compute.fullyConnected / Double(t.scheme == .a ? 1 : g)
        p.compute =
            slowdown
            * (compute.convForward + compute.convBackward + compute.fullyConnected + compute.update * t.updateShare)
        guard k > 1 else { return p }

        // Seconds per message step: the link's idle latency plus the scheduling delay of a busy machine.
        let extraAlpha = sharedCores ? load.alphaUnderLoad : 0
        // Gradients: every bucket's allreduce (chunked steps), compressed or not.
        let compressed = !codec.isIdentity
        let fraction = compressed ? gradientSentFraction : 1
        let gradients = t.gradients.reduce(0.0) { sum, part in
            let link = network.link(members: part.ranks, stride: part.stride)
            return sum + (link.alpha + extraAlpha) * (compressed ? part.compressedSteps : part.steps)
                + 4 * part.sentElements * fraction / link.beta
        }
        // As many ranks as cores or more, on shared memory (Note [oversubscribed cores]): the transfers are CPU
        // work time-shared with the compute. Over TCP the link sets the pace whatever the cores do.
        let saturated = sharedCores && !overTCP && k * compute.threads >= cores
        // The codec's CPU seconds: each rank encodes its contribution and its reduced segment, and decodes n
        // segments and the result, on the transfer thread.
        var codecSeconds = 0.0
        if compressed, let speed = codecs[codec] {
            codecSeconds = t.gradients.reduce(0) { sum, part in
                let bytes = 4 * part.synchronisedElements
                return sum + bytes * (1 + 1 / Double(part.ranks)) / speed.encodeBytesPerSecond + 2 * bytes
                    / speed.decodeBytesPerSecond
            }
        }
        // Over TCP the codec gets a share φ of the core its rank's compute thread runs on; on saturated cores it
        // is CPU time like the compute's.
        p.compression = slowdown / (sharedCores && overTCP ? load.codecCoreShare : 1) * codecSeconds
        p.communication = gradients + p.compression
        // The CPU a transfer takes from its rank's compute, stretching the backward the transfers overlap: over
        // TCP the kernel's work for every gradient byte sent (and, symmetrically, received; Note [stolen by
        // overlapped transfers]); on saturated cores the copies' and sums' CPU time; and the codec's work, slowed
        // as the compute is.
        let gradientBytes = 4 * t.gradientElements * fraction
        var stolen = 0.0
        if sharedCores && overTCP {
            stolen = load.networkSecondsPerByte * gradientBytes + slowdown * codecSeconds
        } else if saturated {
            stolen = slowdown * (load.sharedMemorySecondsPerByte * gradientBytes + codecSeconds)
        }
        p.compute += stolen
        convBackward += stolen
        // The FC shards' buckets start when the FC backward ends and the replicated ones during the conv
        // backward: together they hide behind the conv backward, except the last bucket, which starts when the
        // backward ends. On saturated cores the copies are already in the compute: only the last bucket's wait
        // for its peers is exposed. Over TCP with more ranks than cores nothing hides.
        if saturated {
            p.exposedCommunication = gradients * t.lastBucketShare
        } else {
            let all = gradients + p.compression
            let oversubscribed = sharedCores && k * compute.threads > cores
            p.exposedCommunication = oversubscribed ? all : max(all - convBackward, all * t.lastBucketShare)
        }
        // The loss (data) or labels and loss (hybrid): small collectives on the compute thread, over the world.
        p.exposedCommunication += (network.link(members: k, stride: 1).alpha + extraAlpha) * 2
        guard g > 1 else { return p }

        let group = network.link(members: g, stride: 1)
        func cost(_ c: (steps: Double, elements: Double, serial: Double)) -> Double {
            (group.alpha + extraAlpha) * c.steps + 4 * c.serial / group.beta
        }
        let features = cost(t.features), returns = cost(t.returns), classifier = cost(t.classifier)
        p.communication += features + returns + classifier
        if t.scheme == .a {
            p.exposedCommunication += features + returns + classifier
        } else {
            let perRound = features / Double(g)
            p.exposedCommunication += perRound + Double(g - 1) * max(0, perRound - fcRound)
            p.exposedCommunication += classifier + returns / Double(g)
        }
        return p
    }

    /// How much slower `k` ranks compute when they share `cores` (this machine's for the instance):
    /// max(1, K·threads / cores).
    public static func slowdown(ranks k: Int, threads: Int, cores: Int) -> Double {
        max(1, Double(k * threads) / Double(cores))
    }
    /// `slowdown(ranks:threads:cores:)` at this model's threads per rank and cores.
    public func slowdown(ranks k: Int) -> Double { Self.slowdown(ranks: k, threads: compute.threads, cores: cores) }

    /// Message steps of one transfer of the plan, as `MPICommunicator` runs it: an agreement, then a
    /// direct exchange (reduce-scatter), K − 1 ring steps (all-gather) or the hops of a one-sided all-gather
    /// (scheme (b)'s rounds), per call.
    static func steps(_ t: ParallelPlan.Transfer, ranks k: Int) -> Double {
        let perCall: Double
        switch t.collective {
        case .allGather: perCall = Double(k)
        case .reduceScatter: perCall = 2
        case .broadcast: perCall = oneSidedHops(k) + 1
        }
        return perCall * Double(t.calls)
    }

    /// Transfers of the whole block, one after another, in an all-gather with one contributor over `k` ranks
    /// as Open MPI's `MPI_Allgatherv` runs it: a neighbour exchange on an even K, a ring on an odd one (Note
    /// [one-sided rounds]).
    static func oneSidedHops(_ k: Int) -> Double { Double(k % 2 == 0 ? k / 2 : k - 1) }

    /// Message steps of an allreduce of `n` floats: `MPICommunicator`'s chunks (an exchange and K − 1
    /// ring steps each) after an agreement, or `CompressedAllReduce`'s chunks of 2²⁰ between its agreement
    /// and status exchanges.
    static func allReduceSteps(_ n: Int, ranks k: Int, compressed: Bool) -> Double {
        // Compressed: a chunk's size and frame collectives go back to back on the transfer thread while the
        // caller encodes the next chunk; they count as one exchange and one gather.
        if compressed { return 2 * Double((n + (1 << 20) - 1) >> 20) + 2 }
        let chunk = MPIAllReduceChunking.elements
        return Double(((n + chunk - 1) / chunk) * k) + 1
    }
}
