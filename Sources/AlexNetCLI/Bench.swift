import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that verify their result, time it and write figures.",
        subcommands: [
            BenchCompute.self, BenchAllReduce.self, BenchTraining.self, BenchScaling.self, BenchInput.self,
            BenchLinks.self,
        ])
}

/// The checks of a benchmark's `--batch-size`, `--warmup` and `--steps`.
func validateTimedSteps(batchSize: Int, warmup: Int, steps: Int) throws {
    guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0, got \(warmup)") }
    guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
}
