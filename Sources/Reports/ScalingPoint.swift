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
    public var batchPerRank: Int
    public var threadsPerRank: Int
    public var link: Link
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

    /// `parallelism` plus scheme: "data", "hybrid-a", ...
    public var mode: String { scheme.map { "\(parallelism.rawValue)-\($0.rawValue)" } ?? parallelism.rawValue }

    /// Identifies the configuration (not the measurement): a sweep skips points already recorded.
    public var key: String {
        ScalingPoint.key(
            variant: variant, mode: mode, codec: codec, ranks: ranks, batchPerRank: batchPerRank,
            threadsPerRank: threadsPerRank, link: link)
    }

    /// The key of a configuration, before or after it is measured.
    public static func key(
        variant: String, mode: String, codec: Codec, ranks: Int, batchPerRank: Int, threadsPerRank: Int, link: Link
    ) -> String {
        "\(variant)|\(mode)|\(codec)|\(ranks)|\(batchPerRank)|\(threadsPerRank)|\(link.name)"
    }

    public init(result r: TrainingBenchmarkResult, link: Link, command: [String], date: Date = Date()) {
        variant = r.variant
        parallelism = r.parallelism
        scheme = r.scheme
        codec = r.codec
        ranks = r.ranks
        batchPerRank = r.batchPerRank
        threadsPerRank = r.threadsPerRank
        self.link = link
        images = r.images
        steps = r.steps
        stepSeconds = r.stepSeconds
        medianStepSeconds = r.medianStepSeconds
        imagesPerSecond = r.imagesPerSecond
        let perStep = r.stepSeconds.map { Double(r.ranks * r.batchPerRank) / $0 }
        imagesPerSecondMin = perStep.min() ?? 0
        imagesPerSecondMax = perStep.max() ?? 0
        phases = StepPhases.mean(r.phases)
        let k = Double(max(1, r.traffic.count))
        bytesSentPerRank = r.traffic.map(\.measuredTotal).reduce(0, +) / k
        fp32BytesPerRank = r.traffic.map { Double($0.plannedTotal) }.reduce(0, +) / k
        let gradients = ParallelPlan.Channel.gradients.rawValue
        let gradientSent = r.traffic.map { ($0.fp32Bytes[gradients] ?? 0) + ($0.encodedBytes[gradients] ?? 0) }
        let gradientPlanned = r.traffic.map { Double($0.plannedBytes[gradients] ?? 0) }
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
        "images", "steps", "median_step_seconds", "images_per_second", "images_per_second_min",
        "images_per_second_max", "conv_forward_s", "conv_backward_s", "fc_s", "update_s", "comm_exposed_s",
        "comm_overlapped_s", "compression_s", "other_s", "bytes_sent_per_rank", "fp32_bytes_per_rank",
        "gradient_compression_ratio", "date",
    ]

    public var csvRow: [String] {
        let p = phases
        return [
            variant, mode, codec.description, "\(ranks)", "\(batchPerRank)", "\(threadsPerRank)", link.name,
            link.bitsPerSecond.map { String(format: "%.0f", $0) } ?? "", images, "\(steps)",
            String(format: "%.4f", medianStepSeconds), String(format: "%.3f", imagesPerSecond),
            String(format: "%.3f", imagesPerSecondMin), String(format: "%.3f", imagesPerSecondMax),
        ]
            + [
                p.convForward, p.convBackward, p.fullyConnected, p.update, p.communicationExposed,
                p.communicationOverlapped, p.compression, p.other,
            ].map { String(format: "%.4f", $0) }
            + [
                String(format: "%.0f", bytesSentPerRank), String(format: "%.0f", fp32BytesPerRank),
                String(format: "%.3f", gradientCompressionRatio), date,
            ]
    }
}

extension ScalingPoint {
    /// What a point measured, apart from its size and link: the parallelism, the scheme (hybrid only; (b)
    /// for a hybrid point that recorded none) and the gradient codec. Ordered data before hybrid, then by
    /// scheme, then by the codec's canonical name: the order of the report's tables and chart lines.
    public struct Configuration: Hashable, Sendable, Comparable {
        public var parallelism: ParallelPlan.Parallelism
        /// Nil for data parallelism.
        public var scheme: ParallelPlan.Scheme?
        public var codec: Codec

        public init(parallelism: ParallelPlan.Parallelism, scheme: ParallelPlan.Scheme?, codec: Codec) {
            self.parallelism = parallelism
            self.scheme = parallelism == .data ? nil : scheme ?? .b
            self.codec = codec
        }

        public static func < (a: Configuration, b: Configuration) -> Bool {
            func order(_ c: Configuration) -> (Int, String, String) {
                (c.parallelism == .data ? 0 : 1, c.scheme?.rawValue ?? "", c.codec.description)
            }
            return order(a) < order(b)
        }
    }

    /// The configuration this point measured.
    public var configuration: Configuration {
        Configuration(parallelism: parallelism, scheme: scheme, codec: codec)
    }
}
