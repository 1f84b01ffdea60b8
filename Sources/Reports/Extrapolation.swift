import Collectives
import Compute
import Training

/// The calibrated cost model carried to clusters this machine cannot build: one rank per node (no shared
/// cores), 2 to 1024 ranks, links at 10, 25 and 100 Gbit/s with the efficiency TCP reached on the virtual
/// cluster and an assumed latency, and two compute speeds per rank: this machine's CPU (the measured
/// profile) and a K20-class GPU (assumed; the 2014 note's hardware, where communication weighs far more).
/// Speedup is weak scaling: K × step₁ / step_K.
public struct Extrapolation: Sendable {
    /// The 2014 note's speedups on K20 GPUs (REFERENCE.md §4), by GPU count.
    public static let noteSpeedups: [(ranks: Int, speedup: Double)] = [(1, 1), (2, 1.93), (4, 3.66), (8, 6.16)]
    /// Rank counts: those measured here, then 8 … 1024.
    public static let ranks = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
    /// Link rates, bits/s each direction.
    public static let rates: [Double] = [10e9, 25e9, 100e9]
    /// Seconds per message step (an assumption: a real network's latency cannot be measured here).
    public static let alpha = 10e-6
    /// The share of a link's rate TCP reaches when the calibration measured no network link.
    public static let defaultTCPEfficiency = 0.94
    /// The assumed training throughput of one K20-class GPU on `owt`: ~4.3 GFLOP per image forward and
    /// backward at ~1.7 of the K20's 3.5 TFLOP/s; and its batch.
    public static let gpuImagesPerSecond = 400.0
    public static let gpuBatch = 128

    /// The compute of one rank.
    public enum Hardware: Sendable {
        /// This machine's CPU: the measured one-rank profile.
        case thisMachine
        /// A K20-class GPU: the measured profile scaled to `gpuImagesPerSecond` at `gpuBatch`.
        case gpu
    }

    /// One compute speed and its speedups on every link rate.
    public struct Profile: Sendable {
        public var hardware: Hardware
        public var model: CostModel
        /// Images/s of one rank alone: measured (this machine) or assumed (GPU).
        public var imagesPerSecond: Double
        /// The model's step of one rank alone: step₁.
        public var singleStepSeconds: Double
        /// One per rate of `Extrapolation.rates`, in that order.
        public var networks: [Network]
    }

    /// A link rate and the speedups on it.
    public struct Network: Sendable {
        public var bitsPerSecond: Double
        public var link: CostModel.LinkCost
        /// One per rank count of `Extrapolation.ranks`, in that order.
        public var rows: [Row]
    }

    public struct Row: Sendable {
        public var ranks: Int
        /// One per configuration of `Extrapolation.configurations`, in that order.
        public var speedups: [Double]
        /// The fastest 2-D layout, one per codec of `Extrapolation.layoutCodecs`, in that order.
        public var layouts: [Layout]
        /// What `LayoutPlanner` chooses among every layout (G = 1 included) and codec of `layoutCodecs`.
        public var planned: Layout
        /// fp32 bytes a data-parallel rank sends per step (the plan's arithmetic, before compression).
        public var dataBytesPerRank: Double
        /// The exposed communication of data parallelism without a codec, seconds per step.
        public var dataExposedSeconds: Double
    }

    /// A 2-D layout: the FC layers sharded within groups of G ≥ 2 ranks fed by `scheme`, the K/G groups
    /// data-parallel; the fastest the model finds for one K, link and codec.
    public struct Layout: Sendable {
        public var groupSize: Int
        /// The scheme (b for G = 1, where none applies).
        public var scheme: ParallelPlan.Scheme
        public var codec: Codec
        public var speedup: Double
        /// fp32 bytes a rank sends per step (before compression).
        public var bytesPerRank: Double
        /// Seconds per step: in all, and of communication not hidden behind compute.
        public var stepSeconds: Double
        public var exposedSeconds: Double
    }

    /// β as a share of the shaped rate, mean over the 2-rank default-algorithm samples of the TCP links
    /// (`defaultTCPEfficiency` without any), at most 1.
    public let tcpEfficiency: Double
    /// Per codec, the mean over the measured points of the bytes a compressed gradient sends per fp32 byte.
    public let gradientSentFractions: [Codec: Double]
    /// The codec that sent the fewest bytes, if any point compressed.
    public let bestCodec: Codec?
    /// Data and hybrid (b) without compression, each also with `bestCodec` when there is one.
    public let configurations: [ScalingPoint.Configuration]
    /// The codecs the 2-D layouts are searched with: none, then `bestCodec` when there is one.
    public let layoutCodecs: [Codec]
    /// This machine's CPU, then the GPU.
    public let profiles: [Profile]

    /// - Parameters:
    ///   - model: the cost model of the measured one-rank profile (the load parameters are not used: no
    ///     shared cores).
    ///   - points: the measured points, for the codecs' sent fractions.
    public init(model: CostModel, calibration: Calibration, points: [ScalingPoint]) {
        let efficiencies = calibration.allreduce.filter {
            !$0.link.isLocal && $0.ranks == 2 && $0.mpiAlgorithm == "default"
        }
        .map(\.link).compactMap { link -> Double? in
            calibration.linkCost(link: link.name, ranks: 2).map { $0.beta * 8 / link.bitsPerSecond! }
        }
        tcpEfficiency =
            efficiencies.isEmpty
            ? Self.defaultTCPEfficiency : min(1, efficiencies.reduce(0, +) / Double(efficiencies.count))
        let fractions = Dictionary(grouping: points.filter { !$0.codec.isIdentity }, by: \.codec).mapValues {
            $0.map { 1 / $0.gradientCompressionRatio }.reduce(0, +) / Double($0.count)
        }
        gradientSentFractions = fractions
        // Ties (never seen) go to the codec first by name, so the choice does not depend on hashing.
        bestCodec = fractions.min { ($0.value, $0.key.description) < ($1.value, $1.key.description) }?.key
        var configurations: [ScalingPoint.Configuration] = [
            .init(parallelism: .data, scheme: nil, codec: .none), .init(parallelism: .hybrid, scheme: .b, codec: .none),
        ]
        if let codec = bestCodec {
            configurations.insert(.init(parallelism: .data, scheme: nil, codec: codec), at: 1)
            configurations.append(.init(parallelism: .hybrid, scheme: .b, codec: codec))
        }
        self.configurations = configurations
        let layoutCodecs = [Codec.none] + (bestCodec.map { [$0] } ?? [])
        self.layoutCodecs = layoutCodecs

        let measured = model.compute
        let cpuImagesPerSecond =
            Double(measured.batch)
            / (measured.convForward + measured.convBackward + measured.fullyConnected + measured.update)
        let gpuScale =
            Double(Self.gpuBatch) / Double(measured.batch) * cpuImagesPerSecond / Self.gpuImagesPerSecond
        var gpu = model
        gpu.compute = CostModel.Compute(
            convForward: measured.convForward * gpuScale, convBackward: measured.convBackward * gpuScale,
            fullyConnected: measured.fullyConnected * gpuScale, update: measured.update * gpuScale,
            batch: Self.gpuBatch, threads: measured.threads)
        let efficiency = tcpEfficiency
        profiles = [
            (Hardware.thisMachine, model, cpuImagesPerSecond), (.gpu, gpu, Self.gpuImagesPerSecond),
        ].map { hardware, model, imagesPerSecond in
            Self.profile(
                hardware, model: model, imagesPerSecond: imagesPerSecond, configurations: configurations,
                layoutCodecs: layoutCodecs, fractions: fractions, efficiency: efficiency)
        }
    }

    static func profile(
        _ hardware: Hardware, model: CostModel, imagesPerSecond: Double,
        configurations: [ScalingPoint.Configuration], layoutCodecs: [Codec], fractions: [Codec: Double],
        efficiency: Double
    ) -> Profile {
        let single = model.predict(
            groupSize: 1, scheme: .b, codec: .none, ranks: 1, link: .init(alpha: 0, beta: 1), sharedCores: false
        ).stepSeconds
        let fixed = ranks.map { k in
            configurations.map { c in
                model.traffic(groupSize: c.groupSize(ranks: k), scheme: c.scheme ?? .b, ranks: k)
            }
        }
        let data = ranks.map { model.traffic(groupSize: 1, scheme: .b, ranks: $0) }
        // The planner prices each codec at the fraction the sweep measured.
        var priced = model
        for codec in layoutCodecs where !codec.isIdentity {
            priced.codecs[codec]?.sentFraction = fractions[codec]
        }
        let networks = rates.map { rate in
            let link = CostModel.LinkCost(alpha: alpha, beta: rate * efficiency / 8)
            func predict(_ t: CostModel.PlanTraffic, _ codec: Codec) -> CostModel.Prediction {
                model.predict(
                    t, codec: codec, link: link, sharedCores: false, gradientSentFraction: fractions[codec] ?? 1)
            }
            func speedup(_ t: CostModel.PlanTraffic, _ codec: Codec) -> Double {
                Double(t.ranks) * single / predict(t, codec).stepSeconds
            }
            let rows = ranks.indices.map { i in
                let k = ranks[i]
                let candidates = LayoutPlanner(
                    costModel: priced, network: .flat(link), ranks: k, codecs: layoutCodecs
                ).candidates()
                func layout(_ c: LayoutPlanner.Candidate) -> Layout {
                    Layout(
                        groupSize: c.groupSize, scheme: c.scheme ?? .b, codec: c.codec,
                        speedup: Double(k) * single / c.stepSeconds,
                        bytesPerRank: c.fp32BytesPerRank,
                        stepSeconds: c.stepSeconds, exposedSeconds: c.prediction.exposedCommunication)
                }
                return Row(
                    ranks: k,
                    speedups: zip(configurations, fixed[i]).map { c, t in speedup(t, c.codec) },
                    layouts: layoutCodecs.map { codec in
                        layout(candidates.first { $0.codec == codec && $0.groupSize >= 2 }!)
                    },
                    planned: layout(candidates[0]),
                    dataBytesPerRank: data[i].bytesSent(),
                    dataExposedSeconds: predict(data[i], .none).exposedCommunication)
            }
            return Network(bitsPerSecond: rate, link: link, rows: rows)
        }
        return Profile(
            hardware: hardware, model: model, imagesPerSecond: imagesPerSecond, singleStepSeconds: single,
            networks: networks)
    }

    /// The speedup of `configuration` on `ranks` ranks over a link of `bitsPerSecond`, for `hardware`; nil
    /// for a rank count, rate or configuration not extrapolated.
    public func speedup(
        _ hardware: Hardware, bitsPerSecond: Double, ranks: Int, configuration: ScalingPoint.Configuration
    ) -> Double? {
        guard let profile = profiles.first(where: { $0.hardware == hardware }),
            let network = profile.networks.first(where: { $0.bitsPerSecond == bitsPerSecond }),
            let row = network.rows.first(where: { $0.ranks == ranks }),
            let c = configurations.firstIndex(of: configuration)
        else { return nil }
        return row.speedups[c]
    }
}
