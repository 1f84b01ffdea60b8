import Collectives
import Foundation
import Timing

/// Times the compressed allreduce for one size and codec on every rank of a communicator, beside a
/// baseline allreduce (MPI's own, under MPI), checking the result against the exact sum.
public struct AllReduceBenchmark {
    public var warmup = 2
    public var repetitions = 5
    /// The allreduce to compare against (plain `MPI_Allreduce` under MPI), or nil.
    public var baseline: ((UnsafeMutableBufferPointer<Float>) throws -> Void)?

    public init(
        warmup: Int = 2, repetitions: Int = 5, baseline: ((UnsafeMutableBufferPointer<Float>) throws -> Void)? = nil
    ) {
        precondition(warmup >= 0 && repetitions >= 1, "AllReduceBenchmark: warmup ≥ 0 and repetitions ≥ 1")
        self.warmup = warmup
        self.repetitions = repetitions
        self.baseline = baseline
    }

    /// Runs the benchmark on this rank (every rank calls it with its own `input`, of the same length).
    /// The exact sum is the plain allreduce of `input` (rank-order float sums). Residuals of `topk` are
    /// reset before each repetition, so every repetition measures the same work.
    public func run(
        _ reducer: CompressedAllReduce, codec: Codec, input: [Float], payload: String
    ) throws -> AllReduceBenchmarkResult {
        let comm = reducer.communicator
        var exact = input
        try exact.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
        var work = input
        var times: [Double] = [], baselineTimes: [Double] = []
        var statistics = CompressionStatistics()
        for repetition in 0..<(warmup + repetitions) {
            reducer.resetResiduals()
            work = input
            try comm.barrier()
            let start = monotonicSeconds()
            statistics = try work.withUnsafeMutableBufferPointer {
                try reducer.allReduce($0, codec: codec, tensor: "bench")
            }
            let seconds = monotonicSeconds() - start
            if repetition >= warmup { times.append(seconds) }
            if let baseline {
                var other = input
                try comm.barrier()
                let start = monotonicSeconds()
                try other.withUnsafeMutableBufferPointer { try baseline($0) }
                if repetition >= warmup { baselineTimes.append(monotonicSeconds() - start) }
            }
        }
        var maxError = 0.0, maxExact = 0.0
        for i in 0..<work.count {
            maxError = max(maxError, Double(abs(work[i] - exact[i])))
            maxExact = max(maxExact, Double(abs(exact[i])))
        }
        // Every rank's figures, so that rank-dependent ones are reported as the slowest or the mean.
        let mine: [Double] =
            times + baselineTimes + [
                Double(statistics.bytesSent), Double(statistics.fp32BytesSent), statistics.encodeSeconds,
                statistics.decodeSeconds, Double(statistics.encodedBytes), Double(statistics.decodedBytes),
                Double(bitPattern: digest(work)),
            ]
        let all = try comm.allGatherDoubles(mine, collective: "bench allReduce figures")
        let k = Double(comm.size)
        let slowest = (0..<times.count).map { i in all.map { $0[i] }.max()! }
        let slowestBaseline = (0..<baselineTimes.count).map { i in all.map { $0[times.count + i] }.max()! }
        let tail = times.count + baselineTimes.count
        func mean(_ field: Int) -> Double { all.map { $0[tail + field] }.reduce(0, +) / k }
        let median = Benchmarks.median(slowest)
        let baselineMedian = slowestBaseline.isEmpty ? nil : Benchmarks.median(slowestBaseline)
        return AllReduceBenchmarkResult(
            ranks: comm.size, elements: input.count, codec: codec, payload: payload, warmup: warmup,
            repetitions: repetitions, seconds: slowest, medianSeconds: median,
            algorithmBandwidthGBps: Double(4 * input.count) / median / 1e9,
            bytesSentPerRank: mean(0), fp32BytesSentPerRank: mean(1), sentFraction: mean(1) > 0 ? mean(0) / mean(1) : 1,
            encodeGBps: mean(2) > 0 ? mean(4) / mean(2) / 1e9 : nil,
            decodeGBps: mean(3) > 0 ? mean(5) / mean(3) / 1e9 : nil,
            maxAbsoluteError: maxError, maxRelativeError: maxExact > 0 ? maxError / maxExact : maxError,
            baselineSeconds: slowestBaseline.isEmpty ? nil : slowestBaseline, baselineMedianSeconds: baselineMedian,
            speedVsBaseline: baselineMedian.map { $0 / median },
            identicalOnAllRanks: Set(all.map { $0[tail + 6].bitPattern }).count == 1)
    }
}

private func digest(_ values: [Float]) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for v in values { hash = (hash ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
    return hash
}
