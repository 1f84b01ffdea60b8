import Benchmarks
import Collectives
import Foundation
import Training

/// One measured configuration of a scaling sweep: a real run of `alexnet-dist bench training` (one JSON
/// line of `results.jsonl`, one row of `results.csv`).
public struct ScalingPoint: Codable, Sendable {
    public var variant: String
    public var parallelism: ParallelPlan.Parallelism
    public var scheme: ParallelPlan.Scheme?
    public var codec: Codec
    public var ranks: Int
    /// G when the FC layers were sharded within groups smaller than the world (1 < G < K); nil for data
    /// parallelism and Krizhevsky's hybrid over all K ranks (and in records older than the 2-D layout).
    public var fcGroupSize: Int?
    public var batchPerRank: Int
    public var threadsPerRank: Int
    /// On the virtual cluster, the link every host had (the emulated one when dilated).
    public var link: Link
    /// The time dilation of the run (Note [time dilation]): its K hosts shared this machine's cores and
    /// every link ran `dilation` times slower, so the step times here are the measured ones divided by it
    /// (the emulated cluster's); nil for 1.
    public var dilation: Double?
    /// "synthetic": throughput does not depend on the pixels.
    public var images: String
    public var steps: Int
    /// The slowest rank's time of every timed step.
    public var stepSeconds: [Double]
    public var medianStepSeconds: Double
    public var imagesPerSecond: Double
    /// Images/s of each timed step (K·B over its time): the spread.
    public var imagesPerSecondMin: Double
    public var imagesPerSecondMax: Double
    /// Mean over ranks of the step's phases.
    public var phases: StepPhases
    /// One rank's phases, alone on this machine, measured right before this point (the sweep's compute
    /// reference, Note [compute reference]); nil where the sweep measured none (and in older records).
    public var reference: StepPhases?
    /// How many times the sweep measured this point (Note [drift rule]): the attempt kept is the one whose conv
    /// forward ran closest to its reference; nil for once (and in older records).
    public var attempts: Int?
    /// Mean over ranks of the bytes a rank sends per step (measured, Note [bytes sent]).
    public var bytesSentPerRank: Double
    /// The same traffic uncompressed (the plan's fp32 bytes).
    public var fp32BytesPerRank: Double
    /// Gradient channel only: fp32 bytes over bytes actually sent (1 without compression).
    public var gradientCompressionRatio: Double
    /// Per channel, mean over ranks, bytes sent per step.
    public var bytesSentByChannel: [String: Double]
    /// When it ran (ISO 8601) and the command that ran it.
    public var date: String
    public var command: [String]

    /// The cores this point's ranks had: the machine's, or D times as many when dilated (Note [time dilation]:
    /// the run emulates hosts with their own cores).
    public func cores(machine: Int) -> Int { Int((Double(machine) * (dilation ?? 1)).rounded()) }

    /// The fastest and slowest of the timed steps; nil without any.
    public var stepRange: ClosedRange<Double>? {
        guard let lo = stepSeconds.min(), let hi = stepSeconds.max() else { return nil }
        return lo...hi
    }

    /// Note [step spread]: half the range of the timed steps over their median, the point's own noise beside the
    /// model's error (which is against the median). Where the ranks' transfers overlap their compute on shared
    /// cores one step can differ from the next by far more than 10%: on the AMD Zen 3 sweep the K = 2 data points
    /// at 2 Gbit/s took 2.21–3.16 s a step (±18%), and the steps of the six points the model missed by more than
    /// 10% spread ±8.2% on average against ±2.8% for the others. Nil without steps.
    public var stepSpread: Double? {
        guard let range = stepRange, medianStepSeconds > 0 else { return nil }
        return (range.upperBound - range.lowerBound) / 2 / medianStepSeconds
    }

    /// How far a point's conv forward may run from its reference before the host, not the model, is blamed.
    public static let computeDriftLimit = 0.10

    /// Note [compute drift]: how far this point's conv forward ran from `reference`'s (one rank alone on the
    /// machine), slowed by the sharing of `cores(machine:)` — the same work in every layout, done before any
    /// transfer of the step, so what it is off by is the host's speed while the point ran, not the layout.
    /// Nil for one rank or without a conv forward to compare with. Beyond `computeDriftLimit` the sweep measures
    /// the point again (Note [drift rule]) and the report counts it as the host's, not the model's.
    public func computeDrift(reference: StepPhases, machineCores: Int) -> Double? {
        guard ranks > 1, reference.convForward > 0 else { return nil }
        let slowdown = CostModel.slowdown(ranks: ranks, threads: threadsPerRank, cores: cores(machine: machineCores))
        return phases.convForward / (slowdown * reference.convForward) - 1
    }

    /// The link as the report names it: "1 Gbit/s", and "1 Gbit/s ×4" when emulated at dilation 4.
    public var linkText: String { link.description + (dilation.map { " ×\(formatFactor($0))" } ?? "") }

    /// G: the ranks sharing each FC layer (1: data parallelism; K: Krizhevsky's hybrid).
    public var groupSize: Int { parallelism == .data ? 1 : fcGroupSize ?? ranks }

    /// `parallelism` plus scheme, plus G for groups smaller than the world: "data", "hybrid-a", "hybrid-b-g2".
    public var mode: String { configuration.mode }

    /// Identifies the configuration (not the measurement): a sweep skips points already recorded.
    public var key: String {
        ScalingPoint.key(
            variant: variant, mode: mode, codec: codec, ranks: ranks, batchPerRank: batchPerRank,
            threadsPerRank: threadsPerRank, link: link, dilation: dilation ?? 1)
    }

    /// The key of a configuration, before or after it is measured ("1gbit×4" for a link emulated at dilation 4).
    public static func key(
        variant: String, mode: String, codec: Codec, ranks: Int, batchPerRank: Int, threadsPerRank: Int, link: Link,
        dilation: Double = 1
    ) -> String {
        let linkName = dilation == 1 ? link.name : "\(link.name)×\(formatFactor(dilation))"
        return "\(variant)|\(mode)|\(codec)|\(ranks)|\(batchPerRank)|\(threadsPerRank)|\(linkName)"
    }

    /// The point of `bench training`'s result `r`, run on `link` at time dilation `dilation` (its times divided
    /// by it).
    public init(
        result r: TrainingBenchmarkResult, link: Link, command: [String], date: Date = Date(), dilation: Double = 1
    ) {
        variant = r.variant
        parallelism = r.parallelism
        scheme = r.scheme
        codec = r.codec
        ranks = r.ranks
        fcGroupSize = r.groupSize > 1 && r.groupSize < r.ranks ? r.groupSize : nil
        batchPerRank = r.batchPerRank
        threadsPerRank = r.threadsPerRank
        self.link = link
        images = r.images
        self.dilation = dilation == 1 ? nil : dilation
        steps = r.steps
        stepSeconds = r.stepSeconds.map { $0 / dilation }
        medianStepSeconds = r.medianStepSeconds / dilation
        imagesPerSecond = r.imagesPerSecond * dilation
        let perStep = stepSeconds.map { Double(r.ranks * r.batchPerRank) / $0 }
        imagesPerSecondMin = perStep.min() ?? 0
        imagesPerSecondMax = perStep.max() ?? 0
        phases = StepPhases.mean(r.phases).dilated(by: dilation)
        let k = Double(max(1, r.traffic.count))
        bytesSentPerRank = r.traffic.map(\.measuredTotal).reduce(0, +) / k
        fp32BytesPerRank = r.traffic.map { Double($0.plannedTotal) }.reduce(0, +) / k
        // Every gradient allreduce: the replicated layers' and the FC shards' across groups.
        let gradients = [ParallelPlan.Channel.gradients, .shardGradients].map(\.rawValue)
        let gradientSent = r.traffic.map { t in
            gradients.reduce(0) { $0 + (t.fp32Bytes[$1] ?? 0) + (t.encodedBytes[$1] ?? 0) }
        }
        let gradientPlanned = r.traffic.map { t in Double(gradients.reduce(0) { $0 + (t.plannedBytes[$1] ?? 0) }) }
        let sent = gradientSent.reduce(0, +)
        gradientCompressionRatio = sent > 0 ? gradientPlanned.reduce(0, +) / sent : 1
        var channels: [String: Double] = [:]
        for t in r.traffic {
            for (channel, bytes) in t.fp32Bytes { channels[channel, default: 0] += bytes / k }
            for (channel, bytes) in t.encodedBytes { channels[channel, default: 0] += bytes / k }
        }
        bytesSentByChannel = channels
        self.date = ISO8601DateFormatter().string(from: date)
        self.command = command
    }

    /// The CSV header and a row (`ScalingResults.csv`).
    public static let csvHeader = [
        "variant", "mode", "codec", "ranks", "batch_per_rank", "threads_per_rank", "link", "link_bits_per_second",
        "dilation", "images", "steps", "median_step_seconds", "images_per_second", "images_per_second_min",
        "images_per_second_max", "conv_forward_s", "conv_backward_s", "fc_s", "update_s", "comm_exposed_s",
        "comm_overlapped_s", "compression_s", "other_s", "bytes_sent_per_rank", "fp32_bytes_per_rank",
        "gradient_compression_ratio", "date", "attempts",
    ]

    public var csvRow: [String] {
        let p = phases
        return [
            variant, mode, codec.description, "\(ranks)", "\(batchPerRank)", "\(threadsPerRank)", link.name,
            link.bitsPerSecond.map { String(format: "%.0f", $0) } ?? "", formatFactor(dilation ?? 1), images,
            "\(steps)",
            String(format: "%.4f", medianStepSeconds), String(format: "%.3f", imagesPerSecond),
            String(format: "%.3f", imagesPerSecondMin), String(format: "%.3f", imagesPerSecondMax),
        ]
            + [
                p.convForward, p.convBackward, p.fullyConnected, p.update, p.communicationExposed,
                p.communicationOverlapped, p.compression, p.other,
            ].map { String(format: "%.4f", $0) }
            + [
                String(format: "%.0f", bytesSentPerRank), String(format: "%.0f", fp32BytesPerRank),
                String(format: "%.3f", gradientCompressionRatio), date, "\(attempts ?? 1)",
            ]
    }
}

extension ScalingPoint {
    /// What a point measured, apart from its size and link: the parallelism, the scheme (hybrid only; (b)
    /// for a hybrid point that recorded none), G when the FC layers were sharded within groups smaller than
    /// the world, and the gradient codec. Ordered data before hybrid, then by scheme, then by G (groups
    /// before the whole world), then by the codec's canonical name: the order of the report's tables and
    /// chart lines.
    public struct Configuration: Hashable, Sendable, Comparable {
        public var parallelism: ParallelPlan.Parallelism
        /// Nil for data parallelism.
        public var scheme: ParallelPlan.Scheme?
        /// G, fixed whatever K (1 < G < K where measured); nil for data parallelism and for Krizhevsky's
        /// hybrid over all K ranks.
        public var groupSize: Int?
        public var codec: Codec

        public init(
            parallelism: ParallelPlan.Parallelism, scheme: ParallelPlan.Scheme?, groupSize: Int? = nil, codec: Codec
        ) {
            self.parallelism = parallelism
            self.scheme = parallelism == .data ? nil : scheme ?? .b
            self.groupSize = parallelism == .data ? nil : groupSize
            self.codec = codec
        }

        /// "data", "hybrid-b", "hybrid-b-g2": as points record it and sweeps name it.
        public var mode: String {
            guard let scheme else { return parallelism.rawValue }
            return "\(parallelism.rawValue)-\(scheme.rawValue)" + (groupSize.map { "-g\($0)" } ?? "")
        }

        /// G on `ranks` ranks.
        public func groupSize(ranks: Int) -> Int { parallelism == .data ? 1 : groupSize ?? ranks }

        public static func < (a: Configuration, b: Configuration) -> Bool {
            func order(_ c: Configuration) -> (Int, String, Int, String) {
                (c.parallelism == .data ? 0 : 1, c.scheme?.rawValue ?? "", c.groupSize ?? .max, c.codec.description)
            }
            return order(a) < order(b)
        }
    }

    /// The configuration this point measured.
    public var configuration: Configuration {
        Configuration(parallelism: parallelism, scheme: scheme, groupSize: fcGroupSize, codec: codec)
    }
}

extension ScalingPoint.Configuration: CustomStringConvertible {
    /// Parses MODE:CODEC: "data:none", "hybrid-b:bf16", "hybrid-b-g2:none" (FC layers sharded within groups
    /// of 2 ranks).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty else {
            throw ReportError(
                "configuration '\(text)' is not MODE:CODEC (data:none, hybrid-b:bf16, hybrid-b-g2:none, ...)")
        }
        var mode = parts[0]
        var groupSize: Int?
        if let dash = mode.range(of: "-g", options: .backwards), mode.hasPrefix("hybrid") {
            guard let g = Int(mode[dash.upperBound...]), g >= 2 else {
                throw ReportError(
                    "configuration '\(text)': group size '\(mode[dash.upperBound...])' is not an integer ≥ 2")
            }
            groupSize = g
            mode = String(mode[..<dash.lowerBound])
        }
        let parallelism: ParallelPlan.Parallelism, scheme: ParallelPlan.Scheme?
        switch mode {
        case "data": (parallelism, scheme) = (.data, nil)
        case "hybrid-a": (parallelism, scheme) = (.hybrid, .a)
        case "hybrid-b", "hybrid": (parallelism, scheme) = (.hybrid, .b)
        case "hybrid-c": (parallelism, scheme) = (.hybrid, .c)
        default:
            throw ReportError(
                "configuration '\(text)': mode '\(parts[0])' is not one of data, hybrid-a, hybrid-b, hybrid-c (each with -gG for groups of G)"
            )
        }
        let codec: Codec
        do { codec = try Codec(parsing: parts[1]) } catch { throw ReportError("configuration '\(text)': \(error)") }
        self.init(parallelism: parallelism, scheme: scheme, groupSize: groupSize, codec: codec)
    }

    public var description: String { mode + ":" + codec.description }
}

/// A dilation factor as short text: "4", "2.5".
public func formatFactor(_ factor: Double) -> String { String(format: "%g", factor) }
