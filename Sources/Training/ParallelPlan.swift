import Collectives
import Compute
import Foundation

/// The resolved run of one rank: how K ranks split the work of a training step (which layers are replicated,
/// which sharded, over which ranks), what each rank holds and what it sends, and the facts that follow from
/// the layout (the codec in effect, when the FC layers are updated, whether collectives overlap compute).
/// Everything downstream reads these facts from here (Note [one resolved plan]). Printed at start-up; the
/// byte counts are the arithmetic the trainer's measured figures must match.
///
/// Note [one resolved plan]: the ranks form K/G groups of G consecutive ranks (a group shares a node when G
/// is at most the ranks per node). conv1–conv5 are replicated on every rank and run data-parallel on each
/// rank's own batch of B images, their gradients summed over all K ranks. Within a group the FC layers are
/// sharded by output neurons (Krizhevsky 2014: the rank at position p holds rows `rows(out, G, p)` of every
/// FC weight and bias) and fed by scheme a, b or c over the group's G·B examples; the ranks at position p of
/// the K/G groups hold the same shard and sum its gradients. G = K is Krizhevsky's hybrid; G = 1 is data
/// parallelism (Horovod, DDP), every layer replicated; one rank is the case K = G = 1. A special case is a
/// point of this layout, never a branch of its own.
///
/// Bytes "sent" by a rank count each payload once per destination rank, which is what the collectives of
/// this project move (a reduce-scatter sends the other ranks' segments, an all-gather sends the own
/// segment to each other rank, an all-to-all the parts addressed to others). Uncompressed fp32 throughout.
public struct ParallelPlan: Sendable, Equatable {
    public enum Parallelism: String, Sendable, CaseIterable, Codable {
        case hybrid
        case data
    }

    /// The three ways of the 2014 note to feed the FC stack, within a group of G ranks (G = K: the note's).
    public enum Scheme: String, Sendable, CaseIterable, Codable {
        /// The group's ranks exchange all their conv activations; its FC stack runs on the group's G·B.
        case a
        /// The group's ranks take turns broadcasting their B examples' activations; G sub-batches of B.
        case b
        /// G sub-batches of B, each mixing B/G examples of every rank of the group.
        case c
    }

    /// The communicators of a step, each on a transfer thread of its own where collectives overlap compute.
    public enum Channel: String, Sendable, CaseIterable {
        /// Conv features to the FC stack and their gradients back to the examples' owners.
        case features
        /// The sharded FC stack's all-gathers and reduce-scatters, and the labels.
        case classifier
        /// The replicated layers' gradient allreduce over all K ranks (conv; G = 1: every layer).
        case gradients
        /// The FC shards' gradient allreduce across the K/G groups (the ranks at one position).
        case shardGradients = "shard-gradients"
    }

    /// One collective of a step (run `calls` times, with `elements` sent in all).
    public struct Transfer: Sendable, Equatable {
        /// Where in the step a transfer happens.
        public enum Phase: Sendable, Equatable {
            /// Conv features to the FC stack (scheme a: once; b and c: per round).
            case convFeatures
            /// The group's labels, for the exact softmax on every rank of the group.
            case labels
            /// An FC layer's sharded outputs, gathered.
            case forward(layer: String)
            /// An FC layer's partial input gradients, summed and scattered.
            case backward(layer: String)
            /// The replicated layers' gradient allreduce, `buckets` of them (each half: see `collective`).
            case gradients(buckets: Int)
            /// The FC shards' gradient allreduce across the groups, `buckets` of them.
            case shardGradients(buckets: Int)
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
        /// How many times the collective runs per step (G for the per-round exchanges of schemes b and c,
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
    /// K.
    public let ranks: Int
    /// G: the ranks that share each FC layer (1: every layer replicated; K: Krizhevsky's hybrid).
    public let groupSize: Int
    public let rank: Int
    /// How a group feeds its FC stack (meaningful when G > 1).
    public let scheme: Scheme
    /// Examples per rank per step.
    public let batchPerRank: Int
    /// Gradient elements per allreduce bucket (`GradientBuckets`).
    public let bucketElements: Int
    /// The codec of the gradient allreduces (`.none` when there is no other rank).
    public let codec: Codec
    /// When the FC shards are updated: per sub-batch only when one group of G > 1 ranks feeds its stack in
    /// rounds (schemes b and c) and that was asked for; once per step otherwise (one update from all K·B
    /// examples needs the groups' gradients summed first).
    public let fullyConnectedUpdate: ParallelTrainingConfiguration.FullyConnectedUpdate
    /// Whether collectives run on transfer threads, overlapping compute (never with one rank).
    public let overlap: Bool

    /// Resolves the layout of rank `rank` of `ranks` from what was asked for.
    /// - Parameters:
    ///   - groupSize: G, a divisor of `ranks`.
    public init(
        model: AlexNet, ranks: Int, groupSize: Int, rank: Int, scheme: Scheme, batchPerRank: Int,
        bucketElements: Int = GradientBuckets.defaultBucketElements, codec: Codec = .none,
        fullyConnectedUpdate: ParallelTrainingConfiguration.FullyConnectedUpdate = .step, overlap: Bool = false
    ) {
        precondition(ranks >= 1 && (0..<ranks).contains(rank), "ParallelPlan: rank \(rank) is outside 0..<\(ranks)")
        precondition(
            groupSize >= 1 && ranks % groupSize == 0,
            "ParallelPlan: group size \(groupSize) does not divide \(ranks) ranks")
        precondition(batchPerRank >= 1, "ParallelPlan: batch per rank must be positive, got \(batchPerRank)")
        self.model = model
        self.ranks = ranks
        self.groupSize = groupSize
        self.rank = rank
        self.scheme = scheme
        self.batchPerRank = batchPerRank
        self.bucketElements = bucketElements
        self.codec = ranks == 1 ? .none : codec
        self.overlap = ranks > 1 && overlap
        let inRounds = groupSize > 1 && groupSize == ranks && scheme != .a
        self.fullyConnectedUpdate = inRounds ? fullyConnectedUpdate : .step
    }

    /// The plan of Krizhevsky's hybrid (G = K) or data parallelism (G = 1).
    public init(
        model: AlexNet, ranks: Int, rank: Int, parallelism: Parallelism, scheme: Scheme, batchPerRank: Int,
        bucketElements: Int = GradientBuckets.defaultBucketElements
    ) {
        self.init(
            model: model, ranks: ranks, groupSize: parallelism == .data ? 1 : ranks, rank: rank, scheme: scheme,
            batchPerRank: batchPerRank, bucketElements: bucketElements)
    }

    /// The same layout seen from rank `other`.
    public func of(rank other: Int) -> ParallelPlan {
        ParallelPlan(
            model: model, ranks: ranks, groupSize: groupSize, rank: other, scheme: scheme, batchPerRank: batchPerRank,
            bucketElements: bucketElements, codec: codec, fullyConnectedUpdate: fullyConnectedUpdate, overlap: overlap)
    }

    /// Data parallelism when every layer is replicated (G = 1), hybrid otherwise.
    public var parallelism: Parallelism { groupSize == 1 ? .data : .hybrid }
    /// K/G.
    public var groups: Int { ranks / groupSize }
    /// The group this rank belongs to (ranks g·G ..< (g+1)·G).
    public var group: Int { rank / groupSize }
    /// This rank's position in its group: which FC shard it holds.
    public var position: Int { rank % groupSize }
    /// The ranks of this rank's group, in position order.
    public var groupRanks: Range<Int> { (group * groupSize)..<((group + 1) * groupSize) }

    /// The rows of an `outputs`-wide layer held by rank `r`: contiguous, sizes differing by at most one
    /// (`segmentCounts`), so K need not divide the widths.
    public static func rows(_ outputs: Int, ranks: Int, rank r: Int) -> Range<Int> {
        let counts = segmentCounts(outputs, parts: ranks)
        let start = counts[..<r].reduce(0, +)
        return start..<(start + counts[r])
    }

    /// (name, inputs, outputs) of each FC layer, in order.
    public var fullyConnected: [(name: String, inputs: Int, outputs: Int)] {
        ParallelPlan.fullyConnected(of: model)
    }

    /// `model`'s FC layers in order, with their input and output widths.
    public static func fullyConnected(of model: AlexNet) -> [(name: String, inputs: Int, outputs: Int)] {
        var width = model.featureWidth
        var layers: [(name: String, inputs: Int, outputs: Int)] = []
        for case .linear(let name, let out) in model.classifier {
            layers.append((name, width, out))
            width = out
        }
        return layers
    }

    /// Parameters of the conv stage (replicated on every rank).
    public var convParameters: Int {
        model.parameterCount - fullyConnected.reduce(0) { $0 + $1.outputs * ($1.inputs + 1) }
    }

    /// This rank's FC shards: the rows of its position in the group (all of them when G = 1).
    public var shards: [Shard] {
        fullyConnected.map { layer in
            Shard(
                layer: layer.name, inputs: layer.inputs, outputs: layer.outputs,
                rows: ParallelPlan.rows(layer.outputs, ranks: groupSize, rank: position))
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

    /// The allreduce buckets of the parameters replicated on every rank (conv; G = 1: every layer), summed
    /// over all K ranks, as the trainer forms them: whole layers over arena ranges, so a bucket also carries
    /// its alignment gaps.
    public var gradientBuckets: [GradientBuckets.Bucket] {
        GradientBuckets.buckets(views: replicatedViews, bucketElements: bucketElements)
    }

    /// The allreduce buckets of this rank's FC shards, summed over the K/G ranks holding the same shard (none
    /// when G = 1, where the FC layers are in `gradientBuckets`, or when there is one group).
    public var shardGradientBuckets: [GradientBuckets.Bucket] {
        GradientBuckets.buckets(views: shardViews, bucketElements: bucketElements)
    }

    /// The views of the parameters every rank holds whole: conv, and the FC layers too when G = 1.
    public var replicatedViews: [ParameterView] { viewsByReplication.replicated }

    /// The views of this rank's FC shards whose gradients are summed across the groups: none when G = 1
    /// (they are replicated) or when there is one group.
    public var shardViews: [ParameterView] { viewsByReplication.shards }

    /// This rank's parameter views, split into those every rank holds and the FC shards summed across groups.
    private var viewsByReplication: (replicated: [ParameterView], shards: [ParameterView]) {
        let views = ParameterArena.views(layout: parameterLayout).views
        let convLayers = Set(model.features.map(\.name))
        if groupSize == 1 { return (views, []) }
        let fullyConnected = views.filter { !convLayers.contains($0.layer) }
        return (views.filter { convLayers.contains($0.layer) }, groups > 1 ? fullyConnected : [])
    }

    /// Parameters this rank holds.
    public var parametersHeld: Int { convParameters + shards.reduce(0) { $0 + $1.parameters } }

    /// What this rank sends in one step, collective by collective.
    public var transfers: [Transfer] {
        /// What a rank at `index` of `parts` sends in an allreduce of each bucket: a reduce-scatter (the others'
        /// segments) and an all-gather (its own segment, to each other rank).
        func allReduce(_ buckets: [Int], parts: Int, index: Int, phase: Transfer.Phase, channel: Channel) -> [Transfer]
        {
            guard parts > 1 && !buckets.isEmpty else { return [] }
            return [
                Transfer(
                    phase: phase, collective: .reduceScatter, calls: buckets.count,
                    elements: buckets.reduce(0) { $0 + $1 - segmentCounts($1, parts: parts)[index] }, channel: channel),
                Transfer(
                    phase: phase, collective: .allGather, calls: buckets.count,
                    elements: buckets.reduce(0) { $0 + segmentCounts($1, parts: parts)[index] * (parts - 1) },
                    channel: channel),
            ]
        }
        let replicated = gradientBuckets.map(\.range.count), sharded = shardGradientBuckets.map(\.range.count)
        let gradients =
            allReduce(
                replicated, parts: ranks, index: rank, phase: .gradients(buckets: replicated.count),
                channel: .gradients)
            + allReduce(
                sharded, parts: groups, index: group, phase: .shardGradients(buckets: sharded.count),
                channel: .shardGradients)
        let g = groupSize, p = position
        guard g > 1 else { return gradients }
        // Within the group: Krizhevsky's scheme over its G ranks and G·B examples.
        let b = batchPerRank, f = model.featureWidth, n = g * b
        // Schemes b and c run the FC stack (and its exchanges) once per round of B examples.
        let rounds = scheme == .a ? 1 : g
        var list: [Transfer] = []
        // Every rank's B examples reach every other rank of the group once: (a) in one all-gather, (b) in G
        // broadcasts of B, (c) in G rounds in which every rank contributes B/G (mixed sub-batches).
        list.append(
            Transfer(
                phase: .convFeatures, collective: scheme == .b ? .broadcast : .allGather, calls: rounds,
                elements: b * f * (g - 1), channel: .features))
        // The labels of the group's examples (as floats), for the exact softmax on every rank of the group.
        list.append(
            Transfer(phase: .labels, collective: .allGather, calls: 1, elements: b * (g - 1), channel: .classifier))
        // Forward: each layer's sharded outputs are gathered (every rank needs all of them next; fc8's logits
        // for the exact softmax), on the group's n examples.
        for layer in fullyConnected {
            let mine = ParallelPlan.rows(layer.outputs, ranks: g, rank: p).count
            list.append(
                Transfer(
                    phase: .forward(layer: layer.name), collective: .allGather, calls: rounds,
                    elements: n * mine * (g - 1), channel: .classifier))
        }
        // Backward: partial input gradients are summed and scattered to the previous layer's shards; fc6's,
        // to the ranks that own the examples (rows), whatever the scheme.
        for (index, layer) in fullyConnected.enumerated().reversed() {
            // fc6: the rows of the group's other examples; later layers: the other ranks' input columns.
            let sent =
                index == 0 ? (n - b) * layer.inputs : n * (layer.inputs - segmentCounts(layer.inputs, parts: g)[p])
            list.append(
                Transfer(
                    phase: .backward(layer: layer.name), collective: .reduceScatter, calls: rounds,
                    elements: sent, channel: index == 0 ? .features : .classifier))
        }
        return list + gradients
    }

    /// fp32 bytes this rank sends per step.
    public var bytesSentPerStep: Int { 4 * transfers.reduce(0) { $0 + $1.elements } }

    /// fp32 bytes this rank sends per step on `channel`.
    public func bytesSentPerStep(on channel: Channel) -> Int {
        4 * transfers.filter { $0.channel == channel }.reduce(0) { $0 + $1.elements }
    }
}

extension ParallelPlan {
    /// The layout as a metrics record (`"event": "plan"`), written when a run starts or resumes at `step`: the
    /// facts of Note [one resolved plan] and the fp32 bytes this rank sends per step by channel.
    public func metricsRecord(step: Int) -> [String: Any] {
        var record: [String: Any] = [
            "event": "plan", "step": step, "variant": model.name, "ranks": ranks, "fc_group_size": groupSize,
            "groups": groups, "parallelism": parallelism.rawValue, "codec": codec.description,
            "fc_update": fullyConnectedUpdate.rawValue, "overlap": overlap, "batch_per_rank": batchPerRank,
            "planned_bytes_per_step": bytesSentPerStep,
        ]
        if groupSize > 1 { record["scheme"] = scheme.rawValue }
        for channel in Channel.allCases where bytesSentPerStep(on: channel) > 0 {
            record["\(channel.rawValue)_planned_bytes"] = bytesSentPerStep(on: channel)
        }
        return record
    }

    /// The plan as text lines: the layout, what this rank holds, and what it sends per step.
    public var summary: [String] {
        func megabytes(_ elements: Int) -> String { formatBytes(Double(4 * elements)) }
        let groupsText = groupSize > 1 && groups > 1 ? " in \(groups) groups of \(groupSize)" : ""
        var lines = [
            "\(parallelism) parallel plan: \(model.name), \(ranks) rank\(ranks == 1 ? "" : "s")\(groupsText), "
                + "\(batchPerRank) images per rank per step\(groupSize > 1 ? ", scheme (\(scheme.rawValue))" : "")",
            "  conv1–conv5: replicated, data-parallel (\(grouped(convParameters)) parameters on every rank)",
        ]
        for shard in shards {
            let held =
                groupSize == 1
                ? "replicated"
                : "rows \(shard.rows.lowerBound)..<\(shard.rows.upperBound) of \(shard.outputs)"
                    + (groups > 1 ? " (shard \(position) of \(groupSize), held by \(groups) ranks)" : "")
            lines.append(
                "  \(shard.layer) (\(shard.inputs) → \(shard.outputs)): \(held), \(grouped(shard.parameters)) parameters"
            )
        }
        lines.append("  rank \(rank) holds \(grouped(parametersHeld)) parameters (\(megabytes(parametersHeld)))")
        if ranks > 1 {
            lines.append(
                "  codec \(codec); FC updated per \(fullyConnectedUpdate.rawValue); collectives \(overlap ? "overlap compute" : "inline")"
            )
        }
        for t in transfers {
            let calls = t.calls > 1 ? " ×\(t.calls)" : ""
            lines.append(
                "  sends \(megabytes(t.elements)) per step: \(describe(t.phase)), \(t.collective.rawValue)\(calls)")
        }
        let channels = Channel.allCases.filter { bytesSentPerStep(on: $0) > 0 }
        if !channels.isEmpty {
            lines.append(
                "  per channel: "
                    + channels.map { "\($0.rawValue) \(megabytes(bytesSentPerStep(on: $0) / 4))" }.joined(
                        separator: ", "))
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
            return "\(groupSize == 1 ? "" : "conv ")gradients (\(buckets) bucket\(buckets == 1 ? "" : "s"))"
        case .shardGradients(let buckets):
            return "FC shard gradients across \(groups) groups (\(buckets) bucket\(buckets == 1 ? "" : "s"))"
        }
    }
}
