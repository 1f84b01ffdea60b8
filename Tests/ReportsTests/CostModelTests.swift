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

    @Test func theLoadFitFindsTheLoadThePointsRanWith() {
        // Predictions grow with α, 1/φ, γ and γ_shm; measured as if α = 5 ms, φ = 0.5, γ = 2 ns/byte and
        // γ_shm = 0.6 ns/byte (on the grid).
        let points: [(predict: (CostModel.Load) -> Double, measured: Double)] = [
            ({ 1 + 10 * $0.alphaUnderLoad }, 1.05), ({ 1 + 1 / $0.codecCoreShare }, 3),
            ({ 1 + 1e8 * $0.networkSecondsPerByte }, 1.2), ({ 1 + 1e9 * $0.sharedMemorySecondsPerByte }, 1.6),
        ]
        let fit = CostModel.fitLoad(points).load
        #expect(abs(fit.alphaUnderLoad - 5e-3) < 1e-9)
        #expect(abs(fit.codecCoreShare - 0.5) < 1e-9)
        #expect(abs(fit.networkSecondsPerByte - 2e-9) < 1e-15)
        #expect(abs(fit.sharedMemorySecondsPerByte - 0.6e-9) < 1e-15)
        #expect(CostModel.fitLoad(points).rms < 1e-9)
    }

    /// One rank: compute only, as measured.
    @Test func oneRankIsItsCompute() {
        let p = model().predict(
            groupSize: 1, scheme: .b, codec: .none, ranks: 1, link: .init(alpha: 0, beta: 1), sharedCores: true)
        #expect(abs(p.stepSeconds - 3.7) < 1e-12)
        #expect(p.communication == 0)
    }

    /// Data parallelism over a slow link: the gradient traffic is the plan's (2(K−1)/K of 61M floats) and
    /// all of it beyond conv backward is exposed; hybrid sends far less; sharing 2 cores among 4 ranks
    /// doubles compute (Note [oversubscribed cores]).
    @Test func dataParallelismPaysForItsTrafficOnSlowLinks() {
        let link = CostModel.LinkCost(alpha: 0, beta: 62.5e6)  // 500 Mbit/s
        let data = model().predict(
            groupSize: 1, scheme: .b, codec: .none, ranks: 4, link: link, sharedCores: false)
        let plan = ParallelPlan(
            model: AlexNet.owt, ranks: 4, rank: 0, parallelism: .data, scheme: .b, batchPerRank: 32,
            bucketElements: GradientBuckets.defaultBucketElements)
        let expected = Double(plan.bytesSentPerStep) / 62.5e6
        #expect(abs(data.communication - expected) / expected < 1e-9)
        #expect(abs(data.compute - 3.7) < 1e-9)
        #expect(abs(data.exposedCommunication - (expected - 2)) < 1e-9)
        // On shared memory the copies are CPU time shared like the compute (γ_shm per byte, slowed as the
        // compute is) and only the last bucket waits; over TCP the link's whole time is exposed.
        var busy = model()
        busy.load.sharedMemorySecondsPerByte = 0.5e-9
        let t = busy.traffic(groupSize: 1, scheme: .b, ranks: 4)
        let shared = busy.predict(t, codec: .none, link: link, sharedCores: true)
        #expect(abs(shared.compute - 2 * (3.7 + 0.5e-9 * Double(plan.bytesSentPerStep))) < 1e-9)
        #expect(abs(shared.exposedCommunication - expected * t.lastBucketShare) < 1e-9)
        let overTCP = busy.predict(t, codec: .none, link: link, sharedCores: true, overTCP: true)
        #expect(abs(overTCP.compute - 2 * 3.7) < 1e-9)
        #expect(abs(overTCP.exposedCommunication - expected) < 1e-9)
        let hybrid = model().predict(
            groupSize: 4, scheme: .b, codec: .none, ranks: 4, link: link, sharedCores: false)
        #expect(hybrid.stepSeconds < data.stepSeconds)
        #expect(model().traffic(groupSize: 4, scheme: .b, ranks: 4).bytesSent() < Double(plan.bytesSentPerStep) / 10)
        #expect(hybrid.communication < data.communication / 5)
        // Without shared cores compute is the one-rank figure. Updated per sub-batch (the default for one group
        // fed in rounds), a rank updates its 1/K of the FC layers K times: all of the update; once per step, the
        // update shrinks with the FC shards.
        let dedicated = model().predict(
            groupSize: 4, scheme: .b, codec: .none, ranks: 4, link: link, sharedCores: false)
        #expect(abs(dedicated.compute - 3.7) < 1e-12)
        let perStep = model().predict(
            model().traffic(groupSize: 4, scheme: .b, ranks: 4, fullyConnectedUpdate: .step), codec: .none,
            link: link, sharedCores: false)
        #expect(perStep.compute < 3.7 && perStep.compute > 3.5)
    }

    @Test func compressionSendsTheFractionAndPaysTheCodec() {
        let link = CostModel.LinkCost(alpha: 0, beta: 125e6)
        let none = model().predict(
            groupSize: 1, scheme: .b, codec: .none, ranks: 2, link: link, sharedCores: false)
        let bf16 = model().predict(
            groupSize: 1, scheme: .b, codec: Codec(values: .bf16, zstdLevel: nil), ranks: 2, link: link,
            sharedCores: false,
            gradientSentFraction: 0.5)
        #expect(bf16.compression > 0)
        #expect(abs((bf16.communication - bf16.compression) - none.communication / 2) < 1e-9)
    }

    /// The 2-D layout's traffic is its plan's, element for element: the group's exchanges over G ranks (an
    /// all-gather takes G steps), the conv gradients over K, the FC shards' over the K/G groups; G = 1 and
    /// G = K are data parallelism and Krizhevsky's hybrid.
    @Test func everyGroupSizeSendsItsPlan() {
        let k = 8
        for g in [1, 2, 4, 8] {
            let t = model().traffic(groupSize: g, scheme: .b, ranks: k)
            let plan = ParallelPlan(
                model: AlexNet.owt, ranks: k, groupSize: g, rank: 0, scheme: .b, batchPerRank: 32)
            let sent = t.gradientElements + t.features.elements + t.returns.elements + t.classifier.elements
            #expect(4 * sent == Double(plan.bytesSentPerStep), "G = \(g)")
            #expect(t.parallelism == (g == 1 ? .data : .hybrid))
            // Replicated buckets over K, shard buckets over K/G (none when G is 1 or K).
            #expect(t.gradients.map(\.ranks) == (g == 1 || g == k ? [k] : [k, k / g]), "G = \(g)")
            // A rank updates its 1/G of the FC layers once per step, or G times where one group is fed in rounds.
            let fc = Double(AlexNet.owt.parameterCount - plan.convParameters) / Double(g == k ? 1 : g)
            #expect(
                abs(t.updateShare - (Double(plan.convParameters) + fc) / Double(AlexNet.owt.parameterCount)) < 1e-12)
            // The features go out in G one-sided all-gathers, an agreement and G/2 neighbour-exchange steps each
            // (scheme b, Note [one-sided rounds]); the time follows the block's hops and the returns' receiver.
            let hops = Double(g / 2)
            #expect(t.features.steps == (g == 1 ? 0 : Double(g) * (hops + 1)), "G = \(g)")
            if g > 1 {
                #expect(abs(t.features.serial - t.features.elements * Double(g) * hops / Double(g - 1)) < 1e-6)
                #expect(abs(t.returns.serial - t.returns.elements * Double(g)) < 1e-6)
                #expect(t.classifier.serial == t.classifier.elements)
            }
        }
        // Sharding the FC layers within groups of 4 sends less than both ends on 64 ranks.
        let bytes = [1, 4, 64].map { g in
            ParallelPlan(model: AlexNet.owt, ranks: 64, groupSize: g, rank: 0, scheme: .b, batchPerRank: 128)
                .bytesSentPerStep
        }
        #expect(bytes[1] < bytes[0] && bytes[1] < bytes[2])
    }

    /// On a slow link the groups' smaller gradient allreduce wins over data parallelism; a group's FC
    /// exchanges are exposed, its shard gradients hide behind the conv backward.
    @Test func groupsOfFourBeatDataParallelismOnSlowLinks() {
        let link = CostModel.LinkCost(alpha: 1e-5, beta: 1.25e9 * 0.9)  // 10 Gbit/s
        var m = model()
        m.compute = CostModel.Compute(
            convForward: 0.05, convBackward: 0.1, fullyConnected: 0.03, update: 0.02, batch: 128, threads: 1)
        let data = m.predict(groupSize: 1, scheme: .b, codec: .none, ranks: 64, link: link, sharedCores: false)
        let groups = m.predict(groupSize: 4, scheme: .b, codec: .none, ranks: 64, link: link, sharedCores: false)
        #expect(groups.stepSeconds < data.stepSeconds)
        #expect(groups.communication < data.communication)
        // Less FC state to update per rank.
        #expect(groups.compute < data.compute)
    }

    /// Scheme (c)'s rounds send equal segments: their time is what a rank sends. Scheme (b)'s are one-sided and
    /// take longer on the same bytes.
    @Test func oneSidedRoundsTakeTheBusiestLink() {
        let link = CostModel.LinkCost(alpha: 1e-4, beta: 62.5e6)
        let b = model().traffic(groupSize: 8, scheme: .b, ranks: 8)
        let c = model().traffic(groupSize: 8, scheme: .c, ranks: 8)
        #expect(b.bytesSent() == c.bytesSent())
        #expect(c.features.serial == c.features.elements && c.returns.serial == c.returns.elements)
        let pb = model().predict(b, codec: .none, link: link, sharedCores: false)
        let pc = model().predict(c, codec: .none, link: link, sharedCores: false)
        #expect(pb.exposedCommunication > pc.exposedCommunication)
    }

    /// The CPU a transfer takes from its rank (here the kernel's TCP work) stretches the backward it
    /// overlaps: where the transfer outlasts the backward, the step does not change; the compute does.
    @Test func stolenCpuHidesInsideALongTransfer() {
        let link = CostModel.LinkCost(alpha: 0, beta: 62.5e6)
        var busy = model()
        busy.load.networkSecondsPerByte = 1e-9
        let t = busy.traffic(groupSize: 1, scheme: .b, ranks: 2)
        let idle = model().predict(t, codec: .none, link: link, sharedCores: true, overTCP: true)
        let loaded = busy.predict(t, codec: .none, link: link, sharedCores: true, overTCP: true)
        #expect(abs(loaded.compute - idle.compute - 1e-9 * t.bytesSent()) < 1e-9)
        #expect(abs(loaded.stepSeconds - idle.stepSeconds) < 1e-9)
    }

    /// Note [stolen by overlapped transfers]: the kernel's work per byte stretches the compute for the gradient
    /// streams only; the FC stack's blocking exchanges pay it in their measured link time.
    @Test func theKernelsWorkIsChargedForOverlappedTransfersOnly() {
        let link = CostModel.LinkCost(alpha: 0, beta: 62.5e6)
        var busy = model()
        busy.load.networkSecondsPerByte = 1e-9
        for (g, k) in [(4, 4), (2, 4), (1, 4)] {
            let t = busy.traffic(groupSize: g, scheme: .a, ranks: k)
            let idle = model().predict(t, codec: .none, link: link, sharedCores: true, overTCP: true)
            let loaded = busy.predict(t, codec: .none, link: link, sharedCores: true, overTCP: true)
            let gradientBytes = 4 * t.gradientElements
            #expect(t.bytesSent() > gradientBytes || g == 1)
            #expect(abs(loaded.compute - idle.compute - 1e-9 * gradientBytes) < 1e-9, "G = \(g) of K = \(k)")
        }
    }
}
