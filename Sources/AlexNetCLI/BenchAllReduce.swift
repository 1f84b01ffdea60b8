import ArgumentParser
import Benchmarks
import Collectives
import Compute
import Datasets
import Foundation
import Launch
import Training

struct BenchAllReduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time the (compressed) allreduce per size and codec, beside plain MPI_Allreduce.",
        discussion: """
            Run under mpirun (MPI) or with --simulate K (K in-process ranks; no MPI_Allreduce baseline). \
            Codecs: \(Codec.grammar). Each rank sums its own payload: normally distributed values \
            (σ = 1e-3, like gradients), or with --gradients VARIANT the parameter gradients of a few real \
            training steps of that variant on Fashion-MNIST (each rank its own examples). Errors are against \
            the uncompressed rank-order sum; times are the slowest rank's, median over --repetitions.
            """)

    @Option(help: "Buffer sizes in elements (floats), comma-separated.")
    var sizes = IntegerList(argument: "1048576,16777216,61000000")!
    @Option(
        help: "Codecs, comma-separated (\(Codec.grammar)).",
        transform: CodecList.init(parsing:))
    var codecs = CodecList([
        .none, .zstd, Codec(values: .bf16, zstdLevel: nil), Codec(values: .bf16, zstdLevel: 1),
        Codec(values: .fp16, zstdLevel: 1), Codec(values: .topk(fraction: 0.01), zstdLevel: 1),
    ])
    @Option(help: "Run K in-process ranks instead of MPI.") var simulate: Int?
    @Option(help: "Untimed runs first.") var warmup = 1
    @Option(help: "Timed runs (the median is reported).") var repetitions = 5
    @Option(help: "Elements per pipeline chunk.") var chunkElements = 1 << 20
    @Flag(help: "Run the collectives on the calling thread (no overlap with compression).") var noOverlap = false
    @Option(help: "Use the gradients of real training steps of this variant (small, paper, owt) as the payload.")
    var gradients: AlexNet.Variant?
    @Option(help: "Training steps before the gradient is captured (with --gradients).") var gradientSteps = 2
    @Option(help: "Examples per step (with --gradients).") var gradientBatch = 16
    @Option(help: "Fashion-MNIST directory (with --gradients).") var data = FashionMNIST.defaultDirectory
    @Option(help: "Seed of the synthetic payload and of the captured training.") var seed: UInt64 = 1
    @Option(help: "Write the figures as JSON to this file (atomically).") var json: String?
    @Option(help: .hidden) var injectFault: String?

    func validate() throws {
        guard sizes.values.allSatisfy({ $0 >= 0 }) else {
            throw ValidationError("--sizes must be ≥ 0, got \(sizes.values)")
        }
        if let simulate, !(1...64).contains(simulate) {
            throw ValidationError("--simulate must be between 1 and 64, got \(simulate)")
        }
        guard warmup >= 0, repetitions >= 1 else {
            throw ValidationError("--warmup must be ≥ 0 and --repetitions ≥ 1, got \(warmup) and \(repetitions)")
        }
        guard chunkElements >= 1 else { throw ValidationError("--chunk-elements must be ≥ 1, got \(chunkElements)") }
        guard gradientSteps >= 1, gradientBatch >= 1 else {
            throw ValidationError("--gradient-steps and --gradient-batch must be ≥ 1")
        }
        if let injectFault, InjectedFault(injectFault) == nil {
            throw ValidationError(
                "--inject-fault: expected corrupt-frame:RANK, mismatch-length:RANK or unknown-codec:RANK, got '\(injectFault)'"
            )
        }
    }

    func run() throws {
        if let json { try AtomicFile.checkWritable(json) }
        // The ranks start as `train`'s do (K threads or an MPI job, each watched); each captures its own payload.
        let results = try Launch(simulate: simulate).run(threads: nil, overlap: !noOverlap) { comm, rank in
            try self.measure(
                comm, captured: try self.capture(rank: comm.rank),
                baseline: rank.libraryAllReduce.map { $0.callAsFunction },
                overlap: rank.overlap)
        }
        if let json, let results { try writeJSON(results, to: json) }
    }

    /// The captured gradient of `rank`, or nil for synthetic payloads.
    private func capture(rank: Int) throws -> [Float]? {
        guard let gradients, let model = AlexNet.make(gradients) else { return nil }
        let images = try FashionMNIST.load(split: .train, directory: data)
        printError(
            "capturing the gradient of \(model.name) after \(gradientSteps) steps of \(gradientBatch) (rank \(rank))")
        return try captureGradients(
            model: model, images: images, batch: gradientBatch, steps: gradientSteps, shard: rank, seed: seed)
    }

    private func measure(
        _ world: Communicator, captured: [Float]?, baseline: ((UnsafeMutableBufferPointer<Float>) throws -> Void)?,
        overlap: Bool
    ) throws -> [AllReduceBenchmarkResult] {
        let fault = injectFault.flatMap(InjectedFault.init)
        let comm: Communicator =
            fault?.kind == .corruptFrame && fault?.rank == world.rank
            ? FaultInjectingCommunicator(wrapping: world, fault: .corruptExchangedBytes) : world
        let reducer = CompressedAllReduce(communicator: comm, chunkElements: chunkElements, overlap: overlap)
        let benchmark = AllReduceBenchmark(warmup: warmup, repetitions: repetitions, baseline: baseline)
        let payload =
            captured == nil
            ? "synthetic normal(0, 1e-3)"
            : "gradients of \(gradients!.rawValue) after \(gradientSteps) steps of \(gradientBatch)"
        let counts = captured.map { [$0.count] } ?? sizes.values
        if world.rank == 0 {
            print(
                "allreduce, \(world.size) ranks (\(baseline == nil ? "in-process" : "MPI")), payload \(payload), "
                    + "median of \(repetitions) after \(warmup) warm-up, chunks of \(chunkElements), overlap \(overlap ? "on" : "off")"
            )
            print(
                "   elements  codec         median ms  algbw GB/s  sent/rank MB  of fp32  enc GB/s  dec GB/s  max abs err  max rel err  identical"
                    + (baseline == nil ? "" : "  MPI_Allreduce ms  speed vs MPI"))
        }
        var results: [AllReduceBenchmarkResult] = []
        for count in counts {
            var input = captured ?? synthetic(count: count, rank: world.rank)
            if fault?.kind == .mismatchLength && fault?.rank == world.rank { input.append(0) }
            for codec in codecs.codecs {
                if fault?.kind == .unknownCodec {
                    // Every rank goes through the named-codec path; one names a codec that does not exist.
                    var copy = input
                    let name = fault?.rank == world.rank ? "lz4" : codec.description
                    try copy.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: name) }
                    continue
                }
                let result = try benchmark.run(reducer, codec: codec, input: input, payload: payload)
                results.append(result)
                if world.rank == 0 { print(format(result)) }
            }
        }
        return results
    }

    private func synthetic(count: Int, rank: Int) -> [Float] {
        var rng = SplitMix64(seed: seed &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15)
        return (0..<count).map { _ in Float(rng.nextNormal() * 1e-3) }
    }

    private func format(_ r: AllReduceBenchmarkResult) -> String {
        func gbps(_ v: Double?) -> String { v.map { String(format: "%8.2f", $0) } ?? "       –" }
        var line = String(
            format: "%11d  %@ %10.2f  %10.2f  %12.2f  %6.1f%%  %@  %@  %11.3e  %11.3e  %@", r.elements,
            r.codec.description.padding(toLength: max(12, r.codec.description.count), withPad: " ", startingAt: 0),
            r.medianSeconds * 1000,
            r.algorithmBandwidthGBps, r.bytesSentPerRank / 1e6,
            r.sentFraction * 100, gbps(r.encodeGBps), gbps(r.decodeGBps), r.maxAbsoluteError, r.maxRelativeError,
            r.identicalOnAllRanks ? "      yes" : "       NO")
        if let b = r.baselineMedianSeconds, let s = r.speedVsBaseline {
            line += String(format: "  %16.2f  %11.2f×", b * 1000, s)
        }
        return line
    }
}

/// A fault `--inject-fault KIND:RANK` makes one rank commit, for tests of error reporting.
struct InjectedFault {
    enum Kind: String {
        case corruptFrame = "corrupt-frame", mismatchLength = "mismatch-length", unknownCodec = "unknown-codec"
    }
    let kind: Kind
    let rank: Int

    init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let kind = Kind(rawValue: String(parts[0])), let rank = Int(parts[1]) else {
            return nil
        }
        self.kind = kind
        self.rank = rank
    }
}
