import Collectives
import Compute
import Foundation

/// How K ranks split the work of one training step: which layers are replicated, which sharded, what each
/// rank holds and what it sends. Printed at start-up; the byte counts are the arithmetic the trainer's
/// measured figures must match.
///
/// Hybrid (Krizhevsky 2014): conv1–conv5 are replicated and run data-parallel on each rank's own batch of
/// B images; every FC layer is sharded by output neurons (rank r holds rows `shard(out, r)` of the weight
/// and the matching biases). Data (`--parallel data`, as Horovod or DDP): every layer replicated.
///
/// Bytes "sent" by a rank count each payload once per destination rank, which is what the collectives of
/// this project move (a reduce-scatter sends the other ranks' segments, an all-gather sends the own
/// segment to each other rank, an all-to-all the parts addressed to others). Uncompressed fp32 throughout.
public struct ParallelPlan: Sendable, Equatable {
    public enum Parallelism: String, Sendable, CaseIterable, Codable {
        case hybrid
        case data
    }

    /// The three ways of the 2014 note to feed the FC stack.
    public enum Scheme: String, Sendable, CaseIterable, Codable {
        /// All ranks exchange all conv activations; the FC stack runs on the whole batch of K·B.
        case a
        /// Ranks take turns broadcasting their B examples' activations; K sub-batches of B.
        case b
        /// K sub-batches of B, each mixing B/K examples of every rank (an all-to-all of examples).
        case c
    }

    /// The communicators of a step, each on a transfer thread of its own where collectives overlap compute.
    public enum Channel: String, Sendable, CaseIterable {
        /// Conv features to the FC stack and their gradients back to the examples' owners.
        case features
        /// The sharded FC stack's all-gathers and reduce-scatters, and the labels.
        case classifier
        /// The conv (data: every) gradients' allreduce.
        case gradients
    }

    /// One collective of a step (run `calls` times, with `elements` sent in all).
    public struct Transfer: Sendable, Equatable {
        /// Where in the step a transfer happens.
        public enum Phase: Sendable, Equatable {
            /// Conv features to the FC stack (scheme a: once; b and c: per round).
            case convFeatures
            /// Every rank's labels, for the exact softmax on every rank.
            case labels
            /// An FC layer's sharded outputs, gathered.
            case forward(layer: String)
            /// An FC layer's partial input gradients, summed and scattered.
            case backward(layer: String)
            /// The replicated layers' gradient allreduce, `buckets` of them (each half: see `collective`).
            case gradients(buckets: Int)
        }

        /// The collective, as `MPICommunicator` runs it (what the cost model counts message steps of).
        public enum Collective: String, Sendable, Equatable {
            /// Segments of every rank to every rank (a ring when the segments are balanced).
            case allGather
            /// Every rank's buffer summed, each rank keeping its segment.
            case reduceScatter
            /// One rank's segment to every rank: scheme (b)'s rounds, all-gathers with one contributor.
            case broadcast
        }

        public var phase: Phase
        public var collective: Collective
        /// How many times the collective runs per step (K for the per-round exchanges of schemes b and c,
        /// one per bucket for gradients).
        public var calls: Int
        /// fp32 elements this rank sends per step, over all calls.
        public var elements: Int
        /// The communicator it goes through.
        public var channel: Channel
    }

    /// One FC layer's shard on one rank.
    public struct Shard: Sendable, Equatable {
        public var layer: String
        public var inputs: Int
        public var outputs: Int
        /// This rank's output neurons.
        public var rows: Range<Int>
        public var parameters: Int { rows.count * (inputs + 1) }
    }

    public let model: AlexNet
    public let ranks: Int
    public let rank: Int
    public let parallelism: Parallelism
    public let scheme: Scheme
    /// Examples per rank per step.
    public let batchPerRank: Int
    /// Gradient elements per allreduce bucket (`GradientBuckets`).
    public let bucketElements: Int

    public init(
        model: AlexNet, ranks: Int, rank: Int, parallelism: Parallelism, scheme: Scheme, batchPerRank: Int,
        bucketElements: Int = GradientBuckets.defaultBucketElements
    ) {
        precondition(ranks >= 1 && (0..<ranks).contains(rank), "ParallelPlan: rank \(rank) is outside 0..<\(ranks)")
        precondition(batchPerRank >= 1, "ParallelPlan: batch per rank must be positive, got \(batchPerRank)")
        self.model = model
        self.ranks = ranks
        self.rank = rank
        self.parallelism = parallelism
        self.scheme = scheme
        self.batchPerRank = batchPerRank
        self.bucketElements = bucketElements
    }

    /// The rows of an `outputs`-wide layer held by rank `r`: contiguous, sizes differing by at most one
    /// (`segmentCounts`), so K need not divide the widths.
    public static func rows(_ outputs: Int, ranks: Int, rank r: Int) -> Range<Int> {
        let counts = segmentCounts(outputs, parts: ranks)
        let start = counts[..<r].reduce(0, +)
        return start..<(start + counts[r])
    }

    /// (name, inputs, outputs) of each FC layer, in order.
    public var fullyConnected: [(name: String, inputs: Int, outputs: Int)] {
        var width = model.featureWidth
        var layers: [(name: String, inputs: Int, outputs: Int)] = []
        for case .linear(let name, let out) in model.classifier {
            layers.append((name, width, out))
            width = out
        }
        return layers
    }

    /// Parameters of the conv stage (replicated in both modes).
    public var convParameters: Int {
        model.parameterCount - fullyConnected.reduce(0) { $0 + $1.outputs * ($1.inputs + 1) }
    }

    /// This rank's FC shards (hybrid), or the whole layers (data).
    public var shards: [Shard] {
        fullyConnected.map { layer in
            Shard(
                layer: layer.name, inputs: layer.inputs, outputs: layer.outputs,
                rows: parallelism == .data
                    ? 0..<layer.outputs : ParallelPlan.rows(layer.outputs, ranks: ranks, rank: rank))
        }
    }

    /// This rank's parameter arena layout: the model's, with each FC weight (O, I) and bias (O) cut to the
    /// rank's rows (hybrid). Same names, so a shard's tensors are the rows of the full model's.
    public var parameterLayout: [(layer: String, name: String, shape: [Int])] {
        let held = Dictionary(uniqueKeysWithValues: shards.map { ($0.layer, $0.rows.count) })
        return model.parameterLayout.map { entry in
            guard let rows = held[entry.layer] else { return entry }
            return (entry.layer, entry.name, [rows] + entry.shape.dropFirst())
        }
    }

    /// The allreduce buckets of the replicated parameters' gradients (conv; data: every layer), as the
    /// trainer forms them: whole layers over arena ranges, so a bucket also carries its alignment gaps.
    public var gradientBuckets: [GradientBuckets.Bucket] {
        let views = ParameterArena.views(layout: parameterLayout).views
        let convLayers = Set(model.features.map(\.name))
        let synchronised = parallelism == .data ? views : views.filter { convLayers.contains($0.layer) }
        return GradientBuckets.buckets(views: synchronised, bucketElements: bucketElements)
    }

    /// Parameters this rank holds.
    public var parametersHeld: Int { convParameters + shards.reduce(0) { $0 + $1.parameters } }

    /// What this rank sends in one step, collective by collective.
    public var transfers: [Transfer] {
        let k = ranks
        guard k > 1 else { return [] }
        /// What a rank sends in a reduce-scatter (or allreduce's first half) of `n` elements: the others'
        /// segments.
        func reduceScatter(_ n: Int) -> Int { n - segmentCounts(n, parts: k)[rank] }
        /// What a rank sends in an all-gather of segments of an `n`-element whole: its segment, k−1 times.
        func allGather(_ n: Int) -> Int { segmentCounts(n, parts: k)[rank] * (k - 1) }
        // The gradient allreduces, one per bucket: a reduce-scatter and an all-gather each.
        let buckets = gradientBuckets.map(\.range.count)
        let gradientTransfers = [
            Transfer(
                phase: .gradients(buckets: buckets.count), collective: .reduceScatter, calls: buckets.count,
                elements: buckets.reduce(0) { $0 + reduceScatter($1) }, channel: .gradients),
            Transfer(
                phase: .gradients(buckets: buckets.count), collective: .allGather, calls: buckets.count,
                elements: buckets.reduce(0) { $0 + allGather($1) }, channel: .gradients),
        ]
        switch parallelism {
        case .data:
            return gradientTransfers
        case .hybrid:
            let b = batchPerRank, f = model.featureWidth, n = k * b
            // Schemes b and c run the FC stack (and its exchanges) once per round of B examples.
            let rounds = scheme == .a ? 1 : k
            var list: [Transfer] = []
            // Every rank's B examples reach every other rank once: (a) in one all-gather, (b) in K
            // broadcasts of B, (c) in K rounds in which every rank contributes B/K (mixed sub-batches).
            list.append(
                Transfer(
                    phase: .convFeatures, collective: scheme == .b ? .broadcast : .allGather, calls: rounds,
                    elements: b * f * (k - 1), channel: .features))
            // The labels of every rank's examples (as floats), for the exact softmax on every rank.
            list.append(
                Transfer(phase: .labels, collective: .allGather, calls: 1, elements: b * (k - 1), channel: .classifier))
            // Forward: each layer's sharded outputs are gathered (every rank needs all of them next; fc8's
            // logits for the exact softmax), on all n examples of the step.
            for layer in fullyConnected {
                let mine = ParallelPlan.rows(layer.outputs, ranks: k, rank: rank).count
                list.append(
                    Transfer(
                        phase: .forward(layer: layer.name), collective: .allGather, calls: rounds,
                        elements: n * mine * (k - 1), channel: .classifier))
            }
            // Backward: partial input gradients are summed and scattered to the previous layer's shards;
            // fc6's, to the ranks that own the examples (rows), whatever the scheme.
            for (index, layer) in fullyConnected.enumerated().reversed() {
                // fc6: the rows of other ranks' examples; later layers: the other ranks' input columns.
                let sent =
                    index == 0
                    ? (n - b) * layer.inputs : n * (layer.inputs - segmentCounts(layer.inputs, parts: k)[rank])
                list.append(
                    Transfer(
                        phase: .backward(layer: layer.name), collective: .reduceScatter, calls: rounds,
                        elements: sent, channel: index == 0 ? .features : .classifier))
            }
            return list + gradientTransfers
        }
    }

    /// fp32 bytes this rank sends per step.
    public var bytesSentPerStep: Int { 4 * transfers.reduce(0) { $0 + $1.elements } }

    /// fp32 bytes this rank sends per step on `channel`.
    public func bytesSentPerStep(on channel: Channel) -> Int {
        4 * transfers.filter { $0.channel == channel }.reduce(0) { $0 + $1.elements }
    }
}

extension ParallelPlan {
    /// The plan as text lines: layers, what this rank holds, and what it sends per step.
    public var summary: [String] {
        func megabytes(_ elements: Int) -> String { formatBytes(Double(4 * elements)) }
        var lines = [
            "\(parallelism) parallel plan: \(model.name), \(ranks) rank\(ranks == 1 ? "" : "s"), "
                + "\(batchPerRank) images per rank per step\(parallelism == .hybrid ? ", scheme (\(scheme.rawValue))" : "")",
            "  conv1–conv5: replicated, data-parallel (\(grouped(convParameters)) parameters on every rank)",
        ]
        for shard in shards {
            let held =
                parallelism == .data
                ? "replicated" : "rows \(shard.rows.lowerBound)..<\(shard.rows.upperBound) of \(shard.outputs)"
            lines.append(
                "  \(shard.layer) (\(shard.inputs) → \(shard.outputs)): \(held), \(grouped(shard.parameters)) parameters"
            )
        }
        lines.append("  rank \(rank) holds \(grouped(parametersHeld)) parameters (\(megabytes(parametersHeld)))")
        for t in transfers {
            let calls = t.calls > 1 ? " ×\(t.calls)" : ""
            lines.append(
                "  sends \(megabytes(t.elements)) per step: \(describe(t.phase)), \(t.collective.rawValue)\(calls)")
        }
        lines.append(
            "  total sent per step by rank \(rank): \(megabytes(bytesSentPerStep / 4)) (fp32, before compression)")
        return lines
    }

    /// A phase as the summary prints it.
    private func describe(_ phase: Transfer.Phase) -> String {
        switch phase {
        case .convFeatures: return "features (the conv stage's output)"
        case .labels: return "labels"
        case .forward(let layer): return "\(layer) forward"
        case .backward(let layer): return "\(layer) backward"
        case .gradients(let buckets):
            return "\(parallelism == .data ? "" : "conv ")gradients (\(buckets) bucket\(buckets == 1 ? "" : "s"))"
        }
    }
}
