import Benchmarks
import Collectives
import Compute
import Testing
import Training

@Suite struct TrainingBenchmarkTests {
    static let modes: [(ParallelPlan.Parallelism, ParallelPlan.Scheme)] = [
        (.hybrid, .a), (.hybrid, .b), (.hybrid, .c), (.data, .a),
    ]

    /// The bytes every rank sends in real training steps, counted in the collectives, are the plan's
    /// arithmetic to the byte, and its float collectives the plan's calls, channel by channel, with 3 ranks (uneven shards and segments). Besides the
    /// plan, only small control messages: the compressed allreduce's, and the step's figures (loss share,
    /// stop request, non-finite guard: 24 bytes per rank, on the classifier's channel, which data
    /// parallelism counts with the gradients).
    @Test(arguments: 0..<4)
    func measuredBytesAreThePlansArithmetic(_ mode: Int) throws {
        let (parallelism, scheme) = Self.modes[mode]
        let result = try benchmark(parallelism: parallelism, scheme: scheme, codec: .none)
        #expect(result.traffic.count == 3)
        for ranked in result.traffic {
            for channel in ParallelPlan.Channel.allCases.map(\.rawValue) {
                let planned = Double(ranked.plannedBytes[channel]!)
                #expect(ranked.fp32Bytes[channel] == planned, "rank \(ranked.rank), \(channel)")
                #expect(
                    ranked.measuredCalls[channel] == Double(ranked.plannedCalls[channel]!),
                    "rank \(ranked.rank), \(channel): float collectives")
                let control = ranked.encodedBytes[channel]!
                #expect(control < 1_000, "rank \(ranked.rank), \(channel): \(control) bytes besides the plan")
                #expect(channel != "features" || control == 0, "rank \(ranked.rank), \(channel)")
            }
        }
        #expect(result.traffic.allSatisfy { $0.plannedTotal > 0 })
        #expect(result.stepSeconds.count == 2 && result.imagesPerSecond > 0)
    }

    /// Under FC groups (8 ranks, G = 1, 2, 4, 8; Note [one resolved plan]) the bytes are the plan's too, on
    /// every channel: the groups' features and classifier traffic, the conv gradients over all ranks and the
    /// FC shards' across the groups, one stream after the other.
    @Test(arguments: [1, 2, 4, 8])
    func groupedLayoutsSendThePlansBytes(_ groupSize: Int) throws {
        let result = try benchmark(
            parallelism: .hybrid, scheme: .b, codec: .none, ranks: 8, groupSize: groupSize)
        #expect(result.traffic.count == 8)
        for ranked in result.traffic {
            for channel in ParallelPlan.Channel.allCases.map(\.rawValue) {
                let planned = Double(ranked.plannedBytes[channel]!)
                #expect(ranked.fp32Bytes[channel] == planned, "G = \(groupSize), rank \(ranked.rank), \(channel)")
                #expect(
                    ranked.measuredCalls[channel] == Double(ranked.plannedCalls[channel]!),
                    "G = \(groupSize), rank \(ranked.rank), \(channel): float collectives")
                #expect(ranked.encodedBytes[channel]! < 1_000, "G = \(groupSize), rank \(ranked.rank), \(channel)")
            }
        }
        let sent = result.traffic[0].plannedBytes
        #expect((sent["shard-gradients"]! > 0) == (groupSize > 1 && groupSize < 8), "\(sent)")
        // Both gradient streams on one transfer thread (Note [one gradient stream]): their allreduces never
        // overlap, the FC shards' first.
        for (rank, spans) in result.trace.enumerated() {
            let allReduces = spans.filter { ["gradients allReduce", "shard-gradients allReduce"].contains($0.name) }
                .sorted { $0.start < $1.start }
            #expect(
                zip(allReduces, allReduces.dropFirst()).allSatisfy { $1.start >= $0.end },
                "G = \(groupSize), rank \(rank): \(allReduces.map { ($0.name, $0.start, $0.end) })")
            if sent["shard-gradients"]! > 0 {
                #expect(allReduces.first?.name == "shard-gradients allReduce", "G = \(groupSize), rank \(rank)")
            }
        }
    }

    /// With zstd the conv gradients travel as compressed frames (no fp32 left on that channel) while the
    /// features and the FC stack's collectives are unchanged.
    @Test func compressedGradientsAreCountedAsEncodedBytes() throws {
        let result = try benchmark(parallelism: .hybrid, scheme: .b, codec: .zstd)
        for ranked in result.traffic {
            #expect(ranked.fp32Bytes["gradients"] == 0)
            #expect(ranked.encodedBytes["gradients"]! > 0)
            for channel in ["features", "classifier"] {
                #expect(ranked.fp32Bytes[channel] == Double(ranked.plannedBytes[channel]!))
            }
            // Float collectives: the plan's, none for the compressed gradients.
            #expect(ranked.plannedCalls["gradients"] == 0)
            for channel in ParallelPlan.Channel.allCases.map(\.rawValue) {
                #expect(ranked.measuredCalls[channel] == Double(ranked.plannedCalls[channel]!), "\(channel)")
            }
        }
    }

    private func benchmark(
        parallelism: ParallelPlan.Parallelism, scheme: ParallelPlan.Scheme, codec: Codec, ranks: Int = 3,
        groupSize: Int? = nil
    ) throws
        -> TrainingBenchmarkResult
    {
        var training = TrainingConfiguration(model: .small)
        training.batchSize = 6
        training.maxSteps = 3
        training.metricsPath = nil
        training.outputPath = nil
        var c = ParallelTrainingConfiguration(training: training)
        c.parallelism = parallelism
        c.scheme = scheme
        c.codec = codec
        c.bucketElements = 100_000
        c.fullyConnectedGroupSize = groupSize
        let benchmark = TrainingBenchmark(configuration: c, warmup: 1, steps: 2)
        return try InProcessCommunicator.run(size: ranks) { comm in
            ComputeEngine.threadCount = 1
            return try benchmark.run(communicator: comm)
        }[0]
    }
}
