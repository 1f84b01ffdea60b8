import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks that verify their result, time it and write figures.",
        subcommands: [BenchCompute.self, BenchAllReduce.self])
}
