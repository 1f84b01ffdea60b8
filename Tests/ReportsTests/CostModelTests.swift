import Collectives
import Compute
import Testing
import Training

@testable import Reports

@Suite struct CostModelTests {
    let compute = CostModel.Compute(
        convForward: 1, convBackward: 2, fullyConnected: 0.5, update: 0.2, batch: 32, threads: 1)

    func model() -> CostModel {
        CostModel(
            model: AlexNet.owt, compute: compute, cores: 2,
            codecs: [Codec(values: .bf16, zstdLevel: nil): .init(encodeBytesPerSecond: 1e9, decodeBytesPerSecond: 4e9)])
    }

    @Test func fittingRecoversLatencyAndBandwidth() throws {
        let alpha = 2e-4, beta = 1.2e8, k = 4
        let elements = [1 << 20, 1 << 24, 1 << 26]
        let bytes = elements.map { 4 * Double($0) * 1.5 }
        let seconds = zip(elements, bytes).map {
            CostModel.allReduceSteps($0.0, ranks: k, compressed: false) * alpha + $0.1 / beta
        }
        let fit = try #require(CostModel.fitLink(elements: elements, bytesSent: bytes, seconds: seconds, ranks: k))
        #expect(abs(fit.alpha - alpha) / alpha < 1e-6)
        #expect(abs(fit.beta - beta) / beta < 1e-6)
        #expect(CostModel.fitLink(elements: [1 << 20], bytesSent: [1e6], seconds: [0.1], ranks: k) == nil)
        // Chunks of 2^24 floats: an exchange and K − 1 ring steps each, after one agreement.
        #expect(CostModel.allReduceSteps(1 << 25, ranks: 4, compressed: false) == 9)
    }

    @Test func theLoadFitMinimisesTheLargestError() {
        // Predictions grow with α, 1/φ and γ; measured as if α = 5 ms, φ = 0.5 and γ = 2 ns/byte (on the grid).
        let points: [(predict: (Double, Double, Double) -> Double, measured: Double)] = [
            ({ a, _, _ in 1 + 10 * a }, 1.05), ({ _, s, _ in 1 + 1 / s }, 3), ({ _, _, g in 1 + 1e8 * g }, 1.2),
        ]
        let fit = CostModel.fitLoad(points)
        #expect(abs(fit.alpha - 5e-3) < 1e-9)
        #expect(abs(fit.share - 0.5) < 1e-9)
        #expect(abs(fit.secondsPerByte - 2e-9) < 1e-15)
        #expect(fit.error < 1e-9)
    }

    /// One rank: compute only, as measured.
    @Test func oneRankIsItsCompute() {
        let p = model().predict(
            parallelism: .data, scheme: .b, codec: .none, ranks: 1, link: .init(alpha: 0, beta: 1), sharedCores: true)
        #expect(abs(p.stepSeconds - 3.7) < 1e-12)
        #expect(p.communication == 0)
    }

    /// Data parallelism over a slow link: the gradient traffic is the plan's (2(K−1)/K of 61M floats) and
    /// all of it beyond conv backward is exposed; hybrid sends far less; sharing 2 cores among 4 ranks
    /// doubles compute.
    @Test func dataParallelismPaysForItsTrafficOnSlowLinks() {
        let link = CostModel.LinkCost(alpha: 0, beta: 62.5e6)  // 500 Mbit/s
        let data = model().predict(
            parallelism: .data, scheme: .b, codec: .none, ranks: 4, link: link, sharedCores: true)
        let plan = ParallelPlan(
            model: AlexNet.owt, ranks: 4, rank: 0, parallelism: .data, scheme: .b, batchPerRank: 32,
            bucketElements: GradientBuckets.defaultBucketElements)
        let expected = Double(plan.bytesSentPerStep) / 62.5e6
        #expect(abs(data.communication - expected) / expected < 1e-9)
        #expect(abs(data.compute - 2 * 3.7) < 1e-9)
        #expect(abs(data.exposedCommunication - (expected - 2 * 2)) < 1e-9)
        let hybrid = model().predict(
            parallelism: .hybrid, scheme: .b, codec: .none, ranks: 4, link: link, sharedCores: true)
        #expect(hybrid.stepSeconds < data.stepSeconds)
        #expect(hybrid.communication < data.communication / 10)
        // Without shared cores compute is the one-rank figure (the update shrinks with the FC shards).
        let dedicated = model().predict(
            parallelism: .hybrid, scheme: .b, codec: .none, ranks: 4, link: link, sharedCores: false)
        #expect(dedicated.compute < 3.7 && dedicated.compute > 3.5)
    }

    @Test func compressionSendsTheFractionAndPaysTheCodec() {
        let link = CostModel.LinkCost(alpha: 0, beta: 125e6)
        let none = model().predict(
            parallelism: .data, scheme: .b, codec: .none, ranks: 2, link: link, sharedCores: false)
        let bf16 = model().predict(
            parallelism: .data, scheme: .b, codec: Codec(values: .bf16, zstdLevel: nil), ranks: 2, link: link,
            sharedCores: false,
            gradientSentFraction: 0.5)
        #expect(bf16.compression > 0)
        #expect(abs((bf16.communication - bf16.compression) - none.communication / 2) < 1e-9)
    }
}
