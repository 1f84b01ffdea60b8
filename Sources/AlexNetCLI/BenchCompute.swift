import ArgumentParser
import Benchmarks
import Compute
import Foundation
import Training

struct BenchCompute: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compute",
        abstract: "Training-step throughput (forward + loss + backward + update) with a per-layer breakdown.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @Option(help: "Examples per step.") var batchSize: Int = 128
    @Option(help: "Untimed steps first.") var warmup: Int = 2
    @Option(help: "Timed steps (the median is reported).") var steps: Int = 5
    @Option(help: "Write the figures as JSON to this file (atomically).") var json: String?

    func validate() throws { try validateTimedSteps(batchSize: batchSize, warmup: warmup, steps: steps) }

    func run() throws {
        compute.apply()
        let model = modelOptions.model
        let r = try benchmarkCompute(
            model: model, groups: modelOptions.groups, batch: batchSize, warmup: warmup, steps: steps)
        let spread = "\(String(format: "%.3f", r.stepSeconds.min()!))–\(String(format: "%.3f", r.stepSeconds.max()!))"
        print(
            String(
                format:
                    "%@%@ batch %d, %d threads: %.3f s/step median of %d (%@), %.1f images/s, %.0f GFLOP/s (conv + fc), peak RSS %.2f GiB",
                r.variant, r.groups > 1 ? " groups \(r.groups)" : "", r.batch, r.threads, r.medianStepSeconds, r.steps,
                spread, r.imagesPerSecond, r.achievedGFLOPS, Double(r.peakResidentBytes) / 1_073_741_824))
        print("layer     forward ms  backward ms   share   GFLOP/s  implementation (fwd / bwd data / bwd weights)")
        for layer in r.layers {
            let total = layer.forwardSeconds + layer.backwardSeconds
            let gflops = layer.flops > 0 && total > 0 ? String(format: "%8.0f", layer.flops / total / 1e9) : "        "
            print(
                String(
                    format: "%-8@ %10.2f %12.2f %6.1f%%  %@  %@", layer.name, layer.forwardSeconds * 1000,
                    layer.backwardSeconds * 1000, total / r.medianStepSeconds * 100, gflops,
                    layer.implementations.joined(separator: " / ")))
        }
        print(
            String(
                format: "%-8@ %10.2f %12@ %6.1f%%", "loss", r.lossSeconds * 1000, "",
                r.lossSeconds / r.medianStepSeconds * 100))
        print(
            String(
                format: "%-8@ %10@ %12.2f %6.1f%%", "update", "", r.optimizerSeconds * 1000,
                r.optimizerSeconds / r.medianStepSeconds * 100))
        if let json { try writeJSON(r, to: json) }
    }
}
