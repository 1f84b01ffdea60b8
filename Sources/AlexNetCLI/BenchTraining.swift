import ArgumentParser
import Benchmarks
import Collectives
import Compute
import Foundation
import Reports
import Training

struct BenchTraining: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "training",
        abstract:
            "Time real training steps across ranks and measure the bytes each rank sends, beside the plan's arithmetic.",
        discussion: """
            Run under mpirun (MPI) or with --simulate K (K in-process ranks). The images are synthetic (seeded \
            random pixels and labels of the variant's input shape): a step's work and traffic do not depend on \
            what they show. Times are the slowest rank's, median over --steps. Bytes sent count each payload \
            once per rank it reaches, attributed to its source (a ring allreduce's traffic), as the plan does; \
            they are measured by counting communicators around the real collectives. A hybrid run is followed \
            by the --parallel data baseline with the same settings unless --no-baseline.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup(title: "Parallel training (under mpirun, or with --simulate)") var parallel: ParallelOptions
    @Option(help: "Examples per rank per step.") var batchSize: Int = 128
    @Option(help: "Untimed steps first.") var warmup: Int = 1
    @Option(help: "Timed steps (the median is reported).") var steps: Int = 3
    @Option(
        help:
            "Train on prepared shards (made by `prepare`) instead of synthetic images: their decoding and augmentation are then part of every step."
    )
    var shards: String?
    @OptionGroup var loader: LoaderOptions
    @Flag(inversion: .prefixedNo, help: "After a hybrid run, run the data-parallel baseline too and compare.")
    var baseline = true
    @Option(help: "Write the figures as JSON to this file (atomically).") var json: String?
    @Option(help: "Write the last timed step of every rank as a Chrome trace (chrome://tracing, ui.perfetto.dev).")
    var trace: String?

    func validate() throws {
        guard parallel.parallel != .auto else {
            throw ValidationError("--parallel auto applies to train; give bench training a layout (hybrid or data)")
        }
        try validateTimedSteps(batchSize: batchSize, warmup: warmup, steps: steps)
    }

    func run() throws {
        for path in [json, trace].compactMap({ $0 }) { try AtomicFile.checkWritable(path) }
        var training = TrainingConfiguration(model: modelOptions.model)
        training.groups = modelOptions.groups
        training.initialization = modelOptions.model.defaultInitialization
        training.batchSize = batchSize
        training.metricsPath = nil
        training.outputPath = nil
        training.checkpointPath = nil
        training.prefetch = loader.prefetch
        let configured = parallel.configuration(training)
        var modes = [configured]
        if baseline && configured.parallelism == .hybrid {
            var data = configured
            data.parallelism = .data
            modes.append(data)
        }
        let benchmarks = modes.map {
            var benchmark = TrainingBenchmark(configuration: $0, warmup: warmup, steps: steps)
            benchmark.shards = shards
            benchmark.loaderThreads = loader.loaderThreads
            return benchmark
        }
        let results = try parallel.launch.run(threads: compute.threads, overlap: parallel.overlap) {
            try BenchTraining.measure(benchmarks, communicator: $0, overlap: $1.overlap)
        }
        guard let results else { return }
        if results.count == 2 && results[0].ranks > 1 { BenchTraining.compare(hybrid: results[0], data: results[1]) }
        if let json { try writeJSON(results, to: json) }
        if let trace {
            let runs = results.map { ChromeTrace.Run(title: $0.title, spans: $0.trace) }
            try ensureParentDirectory(of: trace)
            try AtomicFile.write(trace, data: Array(try ChromeTrace(runs: runs).json()))
        }
    }

    /// Every benchmark in turn on this rank; rank 0 prints each result.
    private static func measure(
        _ benchmarks: [TrainingBenchmark], communicator: Communicator, overlap: Bool
    ) throws
        -> [TrainingBenchmarkResult]
    {
        let rank0 = communicator.rank == 0
        var results: [TrainingBenchmarkResult] = []
        for var benchmark in benchmarks {
            benchmark.configuration.overlap = overlap
            let result = try benchmark.run(communicator: communicator) { line in if rank0 { printError(line) } }
            if rank0 { print(result) }
            results.append(result)
        }
        return results
    }

    private static func compare(hybrid: TrainingBenchmarkResult, data: TrainingBenchmarkResult) {
        let sent = (hybrid: hybrid.traffic[0].measuredTotal, data: data.traffic[0].measuredTotal)
        let planned = (hybrid: Double(hybrid.traffic[0].plannedTotal), data: Double(data.traffic[0].plannedTotal))
        let bytes = String(
            format: "rank 0 sends %@ per step in hybrid, %@ in data: %.2f× less (plan: %@ and %@, %.2f×)",
            formatBytes(sent.hybrid), formatBytes(sent.data), sent.data / sent.hybrid, formatBytes(planned.hybrid),
            formatBytes(planned.data), planned.data / planned.hybrid)
        let speed = String(
            format: "images/s: hybrid %.1f, data %.1f (%.2f×)", hybrid.imagesPerSecond, data.imagesPerSecond,
            hybrid.imagesPerSecond / data.imagesPerSecond)
        Swift.print(bytes)
        Swift.print(speed)
    }

    private static func print(_ r: TrainingBenchmarkResult) {
        let spread = "\(String(format: "%.3f", r.stepSeconds.min()!))–\(String(format: "%.3f", r.stepSeconds.max()!))"
        Swift.print(
            String(
                format:
                    "%@ %@%@%@, %d ranks × %d images, codec %@, %d threads per rank: %.3f s/step median of %d (%@), %.1f images/s",
                r.variant, r.parallelism.rawValue, r.scheme.map { " scheme (\($0.rawValue))" } ?? "",
                r.groupSize > 1 && r.groupSize < r.ranks ? " in groups of \(r.groupSize)" : "", r.ranks,
                r.batchPerRank,
                r.codec.description,
                r.threadsPerRank, r.medianStepSeconds, r.steps, spread, r.imagesPerSecond))
        Swift.print(
            "bytes sent per step (\(r.images) images; plan: fp32 arithmetic; measured: counted in the collectives)")
        for line in r.traffic[0].table { Swift.print(line) }
        let p = StepPhases.mean(r.phases)
        Swift.print(
            String(
                format:
                    "phases, mean over ranks (s/step): conv forward %.3f, conv backward %.3f, FC %.3f, update %.3f, communication exposed %.3f (overlapped %.3f), compression %.3f, other %.3f",
                p.convForward, p.convBackward, p.fullyConnected, p.update, p.communicationExposed,
                p.communicationOverlapped, p.compression, p.other))
        let ratios = r.traffic.map { $0.ratio ?? .nan }
        Swift.print(
            String(
                format: "every rank: measured/plan %.4f–%.4f, sent %@–%@ per step", ratios.min()!, ratios.max()!,
                formatBytes(r.traffic.map(\.measuredTotal).min()!), formatBytes(r.traffic.map(\.measuredTotal).max()!)))
    }
}
