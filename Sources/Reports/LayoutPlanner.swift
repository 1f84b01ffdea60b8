import Benchmarks
import Collectives
import Compute
import Foundation
import Training

/// Note [choosing a layout]: a layout is G (the ranks sharing each FC layer, a divisor of K up to the
/// narrowest FC width; 1 is data parallelism, K Krizhevsky's hybrid), the scheme feeding a group's FC stack
/// (a, b, c; none for G = 1), the codec of the gradient allreduces and when the FC shards are updated (per
/// sub-batch only where one group feeds its stack in rounds). The planner predicts each one's step with the
/// cost model on the cluster's two-level network (Note [two-level links]) and ranks them by time per step;
/// equal times go to fewer bytes sent, then to the smaller G. Lossy codecs are candidates only when asked
/// for: they change the numbers the run computes.
public struct LayoutPlanner: Sendable {
    /// One layout and what the model predicts for it.
    public struct Candidate: Sendable {
        public var groupSize: Int
        /// The scheme a group of G > 1 uses (nil for data parallelism).
        public var scheme: ParallelPlan.Scheme?
        public var codec: Codec
        public var fullyConnectedUpdate: ParallelTrainingConfiguration.FullyConnectedUpdate
        public var prediction: CostModel.Prediction
        /// Bytes a rank sends per step (the plan's transfers; gradients at the codec's fraction), and as fp32.
        public var bytesSentPerRank: Double
        public var fp32BytesPerRank: Double

        public var parallelism: ParallelPlan.Parallelism { groupSize == 1 ? .data : .hybrid }
        public var stepSeconds: Double { prediction.stepSeconds }

        /// "G = 4, scheme b, codec none, FC per step" (data parallelism: "data parallelism, codec none").
        public var label: String {
            let codecText = "codec \(codec)"
            guard let scheme else { return "data parallelism (G = 1), \(codecText)" }
            let update = fullyConnectedUpdate == .subBatch ? "FC per sub-batch" : "FC per step"
            return "G = \(groupSize), scheme \(scheme.rawValue), \(codecText), \(update)"
        }
    }

    /// The chosen layout and why, in one sentence generated from the figures.
    public struct Recommendation: Sendable {
        public var choice: Candidate
        public var reason: String
    }

    /// Compute per rank and the codecs' measured costs.
    public var costModel: CostModel
    public var network: CostModel.Network
    /// K.
    public var ranks: Int
    /// The codecs to consider besides none (each needs its throughput and sent fraction in `costModel`).
    public var codecs: [Codec]

    public init(costModel: CostModel, network: CostModel.Network, ranks: Int, codecs: [Codec] = []) {
        precondition(ranks >= 1, "LayoutPlanner: ranks must be positive")
        self.costModel = costModel
        self.network = network
        self.ranks = ranks
        self.codecs = codecs
    }

    /// The bytes per fp32 byte `codec` sends: measured, or exact for a plain cast to 16 bits; nil where
    /// neither is known (the codec is left out).
    public func sentFraction(_ codec: Codec) -> Double? {
        if codec.isIdentity { return 1 }
        if let measured = costModel.codecs[codec]?.sentFraction { return measured }
        switch (codec.values, codec.zstdLevel) {
        case (.bf16, nil), (.fp16, nil): return 0.5
        default: return nil
        }
    }

    /// The codecs of `codecs` the planner can price (none first), and those it cannot.
    public var pricedCodecs: (priced: [Codec], unpriced: [Codec]) {
        var priced: [Codec] = [.none], unpriced: [Codec] = []
        for c in codecs where !c.isIdentity && !priced.contains(c) {
            if sentFraction(c) != nil && costModel.codecs[c] != nil { priced.append(c) } else { unpriced.append(c) }
        }
        return (priced, unpriced)
    }

    /// Every G the trainer accepts at K ranks: divisors of K up to the narrowest FC layer's width, and for
    /// scheme c at most the batch per rank.
    public var groupSizes: [Int] {
        let narrowest = ParallelPlan.fullyConnected(of: costModel.model).map(\.outputs).min() ?? 1
        return (1...ranks).filter { ranks % $0 == 0 && $0 <= narrowest }
    }

    /// Every layout, fastest first.
    public func candidates() -> [Candidate] {
        var result: [Candidate] = []
        let batch = costModel.compute.batch
        for codec in pricedCodecs.priced {
            let fraction = sentFraction(codec) ?? 1
            for g in groupSizes {
                let schemes: [ParallelPlan.Scheme?] =
                    g == 1
                    ? [nil]
                    : ParallelPlan.Scheme.allCases.filter {
                        $0 != .c || batch >= g
                    }
                for scheme in schemes {
                    let inRounds = g > 1 && g == ranks && scheme != .a
                    let updates: [ParallelTrainingConfiguration.FullyConnectedUpdate] =
                        inRounds ? [.step, .subBatch] : [.step]
                    for update in updates {
                        let traffic = costModel.traffic(
                            groupSize: g, scheme: scheme ?? .b, ranks: ranks, fullyConnectedUpdate: update)
                        let prediction = costModel.predict(
                            traffic, codec: ranks > 1 ? codec : .none, network: network, sharedCores: false,
                            gradientSentFraction: fraction)
                        result.append(
                            Candidate(
                                groupSize: g, scheme: scheme, codec: codec, fullyConnectedUpdate: update,
                                prediction: prediction,
                                bytesSentPerRank: traffic.bytesSent(gradientSentFraction: fraction),
                                fp32BytesPerRank: traffic.bytesSent()))
                    }
                }
            }
            if ranks == 1 { break }
        }
        return result.sorted {
            if $0.stepSeconds != $1.stepSeconds { return $0.stepSeconds < $1.stepSeconds }
            if $0.bytesSentPerRank != $1.bytesSentPerRank { return $0.bytesSentPerRank < $1.bytesSentPerRank }
            return $0.groupSize < $1.groupSize
        }
    }

    /// The fastest layout, and a sentence on what it beats and why (`explain`).
    public func recommend() -> Recommendation {
        let all = candidates()
        return Recommendation(choice: all[0], reason: explain(all[0], among: all))
    }

    /// A sentence on `best`: its predicted step and its parts, against data parallelism and the hybrid over all
    /// K ranks (uncompressed, among `all`), and whether its FC groups stay inside a node.
    public func explain(_ best: Candidate, among all: [Candidate]) -> String {
        guard ranks > 1 else { return "one rank: nothing to share, the step is compute alone" }
        func ms(_ s: Double) -> String { String(format: "%.1f ms", s * 1e3) }
        func mb(_ b: Double) -> String { String(format: "%.1f MB", b / 1e6) }
        var parts = [
            "\(best.label): \(ms(best.stepSeconds)) per step predicted (compute \(ms(best.prediction.compute)), "
                + "communication exposed \(ms(best.prediction.exposedCommunication)), \(mb(best.bytesSentPerRank)) "
                + "sent per rank)"
        ]
        let references: [(String, Candidate?)] = [
            ("data parallelism", all.first { $0.groupSize == 1 && $0.codec.isIdentity }),
            ("the hybrid over all \(ranks) ranks", all.first { $0.groupSize == ranks && $0.codec.isIdentity }),
        ]
        for (name, other) in references {
            guard let other, other.groupSize != best.groupSize || !other.codec.isIdentity || best.codec != other.codec
            else { continue }
            let ratio = other.stepSeconds / best.stepSeconds
            parts.append(
                String(format: "%.2f× %@", ratio, name)
                    + " (\(ms(other.stepSeconds)): \(mb(other.bytesSentPerRank)) per rank, "
                    + "\(ms(other.prediction.exposedCommunication)) of communication exposed)")
        }
        let g = best.groupSize
        if g > 1 {
            let inNode = g <= network.ranksPerNode && network.ranksPerNode % g == 0
            parts.append(
                inNode
                    ? "each FC group stays inside a node (G = \(g) ≤ \(network.ranksPerNode) ranks per node)"
                    : "each FC group spans nodes (G = \(g), \(network.ranksPerNode) per node)")
        }
        return parts.joined(separator: "; ")
    }
}

extension LayoutPlanner {
    /// The planner's answer as the `plan` command writes it (`--json`), every figure in seconds and bytes.
    public struct Report: Codable, Sendable {
        public struct Row: Codable, Sendable {
            public var groupSize: Int
            public var parallelism: ParallelPlan.Parallelism
            public var scheme: ParallelPlan.Scheme?
            public var codec: String
            public var fcUpdate: String
            public var stepSeconds: Double
            public var computeSeconds: Double
            public var exposedCommunicationSeconds: Double
            public var communicationSeconds: Double
            public var bytesSentPerRank: Double
            public var imagesPerSecond: Double
        }

        public var variant: String
        public var batchPerRank: Int
        public var ranks: Int
        public var network: CostModel.Network
        public var compute: CostModel.Compute
        public var unpricedCodecs: [String]
        /// Fastest first; the first is the recommendation.
        public var candidates: [Row]
        public var reason: String
    }

    /// Every candidate and the recommendation, for `--json` and the metrics file.
    public func report() -> Report {
        let advice = recommend()
        let batch = costModel.compute.batch
        let rows = candidates().map { c in
            Report.Row(
                groupSize: c.groupSize, parallelism: c.parallelism, scheme: c.scheme, codec: c.codec.description,
                fcUpdate: c.fullyConnectedUpdate == .subBatch ? "sub-batch" : "step", stepSeconds: c.stepSeconds,
                computeSeconds: c.prediction.compute, exposedCommunicationSeconds: c.prediction.exposedCommunication,
                communicationSeconds: c.prediction.communication, bytesSentPerRank: c.bytesSentPerRank,
                imagesPerSecond: Double(ranks * batch) / c.stepSeconds)
        }
        return Report(
            variant: costModel.model.name, batchPerRank: batch, ranks: ranks, network: network,
            compute: costModel.compute, unpricedCodecs: pricedCodecs.unpriced.map(\.description), candidates: rows,
            reason: advice.reason)
    }
}

extension CostModel.Compute {
    /// One rank's phases from `bench compute` of `model`: the feature layers' forward and backward, the rest
    /// (flatten, FC layers, dropout and the loss) as the FC stage, the optimizer as the update.
    public init(benchmark r: ComputeBenchmarkResult, model: AlexNet) {
        let features = Set(model.features.map(\.name))
        let conv = r.layers.filter { features.contains($0.name) }
        let rest = r.layers.filter { !features.contains($0.name) }
        self.init(
            convForward: conv.reduce(0) { $0 + $1.forwardSeconds },
            convBackward: conv.reduce(0) { $0 + $1.backwardSeconds },
            fullyConnected: rest.reduce(0) { $0 + $1.forwardSeconds + $1.backwardSeconds } + r.lossSeconds,
            update: r.optimizerSeconds, batch: r.batch, threads: r.threads)
    }
}

extension LinkBenchmarkResult {
    /// α and β of each level fitted to the samples (`CostModel.fitLink`, two ranks), as a two-level network of
    /// `ranksPerNode` (default: as measured) ranks per node. A level not measured (one node, or one rank per
    /// node) takes the other's figures when the network does not use it, and is an error when it does.
    public func network(ranksPerNode p: Int? = nil, ranks: Int) throws -> CostModel.Network {
        let p = p ?? ranksPerNode
        func fit(_ level: Level) -> CostModel.LinkCost? {
            let s = samples.filter { $0.level == level }
            return CostModel.fitLink(
                elements: s.map(\.elements), bytesSent: s.map(\.bytesSentPerRank), seconds: s.map(\.seconds), ranks: 2)
        }
        let intra = fit(.intraNode), inter = fit(.interNode)
        guard let either = intra ?? inter else {
            throw ReportError("the link measurement has no two sizes of any link to fit α and β to")
        }
        if ranks > p && inter == nil {
            throw ReportError(
                "the links were measured on one node only (\(worldSize) ranks): \(ranks) ranks at \(p) per node need the network's figures too"
            )
        }
        if p > 1 && intra == nil {
            throw ReportError(
                "the links were measured with one rank per node: \(p) ranks per node need the node's own link too")
        }
        return CostModel.Network(ranksPerNode: p, intraNode: intra ?? either, interNode: inter ?? either)
    }
}
