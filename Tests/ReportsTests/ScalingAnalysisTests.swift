import Collectives
import Foundation
import Testing
import Training

@testable import Reports

/// The report's figures computed from a results folder written by hand, without rendering (no gnuplot).
@Suite struct ScalingAnalysisTests {
    static let bf16 = Codec(values: .bf16, zstdLevel: nil)

    /// `ScalingReportTests.folder()` (one rank; data and hybrid (b) at 4 ranks on 1 Gbit/s) with: a faster data
    /// baseline that compresses, a faster hybrid (a), 2-rank points whose images/s beat every 4-rank hybrid, and
    /// a 500 Mbit/s link (not calibrated) where the compressed hybrid is fastest. A bf16 codec cost is added
    /// to the calibration.
    static func analysis() throws -> ScalingAnalysis {
        typealias T = ScalingReportTests
        let directory = try T.folder(extra: [
            T.pointLine(
                mode: "data", codec: "bf16", ranks: 4, link: "1gbit", step: 6.0, bytes: 183e6,
                phases: (1.2, 3.5, 0.4, 0.2, 0.7), compression: 2),
            T.pointLine(
                mode: "hybrid-a", ranks: 4, link: "1gbit", step: 4.9, bytes: 28e6, phases: (1.2, 3.2, 0.3, 0.1, 0.1)),
            T.pointLine(
                mode: "data", ranks: 2, link: "1gbit", step: 4.0, bytes: 244e6, phases: (0.6, 1.7, 0.2, 0.1, 1.3)),
            T.pointLine(
                mode: "hybrid-b", ranks: 2, link: "1gbit", step: 2.0, bytes: 14e6, phases: (0.6, 1.6, 0.2, 0.1, 0.1)),
            T.pointLine(
                mode: "data", ranks: 4, link: "500mbit", step: 9.5, bytes: 366e6, phases: (1.2, 3.5, 0.4, 0.2, 4.2)),
            T.pointLine(
                mode: "hybrid-b", ranks: 4, link: "500mbit", step: 5.6, bytes: 28e6, phases: (1.2, 3.2, 0.4, 0.1, 0.7)),
            T.pointLine(
                mode: "hybrid-b", codec: "bf16", ranks: 4, link: "500mbit", step: 5.4, bytes: 21e6,
                phases: (1.2, 3.2, 0.4, 0.1, 0.5), compression: 2),
        ])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let results = try ScalingResults(directory: directory, create: false)
        var calibration = try Calibration.load(results.calibrationPath)
        calibration.codecs[bf16] = .init(encodeBytesPerSecond: 10e9, decodeBytesPerSecond: 40e9)
        return ScalingAnalysis(results: results, calibration: calibration)
    }

    static func point(
        _ a: ScalingAnalysis, _ parallelism: ParallelPlan.Parallelism, _ scheme: ParallelPlan.Scheme? = nil,
        codec: Codec = .none, ranks: Int, link: String
    ) throws -> ScalingPoint {
        let configuration = ScalingPoint.Configuration(parallelism: parallelism, scheme: scheme, codec: codec)
        return try #require(
            a.results.points.first { $0.configuration == configuration && $0.ranks == ranks && $0.link.name == link })
    }

    /// throughput_K / (K × throughput_1), against the one-rank point of the same variant, batch and threads;
    /// none (and no model) without one.
    @Test func efficiencyIsThroughputOverRanksTimesOneRank() throws {
        let a = try Self.analysis()
        let one = try Self.point(a, .data, ranks: 1, link: "local")
        let data = try Self.point(a, .data, ranks: 4, link: "1gbit")
        #expect(a.single(data)?.key == one.key)
        #expect(try #require(a.efficiency(one)) == 1)
        let expected = (4 * 32 / 7.6) / (4 * (32 / 2.5))
        #expect(abs(try #require(a.efficiency(data)) - expected) < 1e-12)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("analysis-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var multi = try ScalingResults(directory: directory)
        for p in a.results.points where p.ranks > 1 { try multi.record(p) }
        let without = ScalingAnalysis(results: multi, calibration: a.calibration)
        #expect(without.efficiency(data) == nil && without.costModel(for: data) == nil)
        #expect(without.modelChecks.isEmpty && without.extrapolation == nil)
    }

    /// Per link, at its largest rank count: data without compression (not the faster compressed data point)
    /// against the hybrid point with the most images/s (not a 2-rank one); links without two ranks have none.
    @Test func theHeadlineIsDataWithoutCompressionAgainstTheFastestHybrid() throws {
        let a = try Self.analysis()
        #expect(a.headline.map(\.link.name) == ["1gbit", "500mbit"])
        let gigabit = a.headline[0], slow = a.headline[1]
        #expect(gigabit.ranks == 4 && slow.ranks == 4)
        #expect(gigabit.data.key == (try Self.point(a, .data, ranks: 4, link: "1gbit")).key)
        #expect(gigabit.hybrid.key == (try Self.point(a, .hybrid, .a, ranks: 4, link: "1gbit")).key)
        #expect(slow.data.key == (try Self.point(a, .data, ranks: 4, link: "500mbit")).key)
        #expect(slow.hybrid.key == (try Self.point(a, .hybrid, .b, codec: Self.bf16, ranks: 4, link: "500mbit")).key)
        #expect(abs(gigabit.speedup - 7.6 / 4.9) < 1e-12)
    }

    /// Every point with a calibrated link is predicted (the 500 Mbit/s points are not); its error is
    /// (predicted − measured) / measured; the load fit's root-mean-square error is theirs over the multi-rank
    /// points (the one-rank point is exact).
    @Test func modelErrorsAreRelativeToTheMeasurementAndTheFitsIsTheirs() throws {
        let a = try Self.analysis()
        let predictable = a.results.points.filter { $0.link.name != "500mbit" }
        #expect(a.modelChecks.map(\.point.key) == predictable.map(\.key))
        for check in a.modelChecks {
            let predicted = try #require(a.predicted(check.point)).stepSeconds
            #expect(check.prediction.stepSeconds == predicted)
            let measured = check.point.medianStepSeconds
            #expect(abs(check.error - (predicted - measured) / measured) < 1e-15)
        }
        let one = try #require(a.modelChecks.first { $0.point.ranks == 1 })
        #expect(abs(one.error) < 1e-12)
        let errors = a.modelChecks.filter { $0.point.ranks > 1 }.map(\.error)
        let rms = (errors.reduce(0) { $0 + $1 * $1 } / Double(errors.count)).squareRoot()
        #expect(a.rmsFitError > 0.01)
        #expect(abs(a.rmsFitError - rms) < 1e-12)
        #expect(a.largestModelError == errors.map(abs).max())
        #expect(a.load.codecCoreShare > 0 && a.load.codecCoreShare <= 1)
    }

    /// α and β per link and rank count from the default-algorithm samples (the synthetic ones are exact:
    /// 1.1e8 bytes/s); the ring measurement against 2(K−1)·α + 2(K−1)/K·4n/β with the 2-rank fit.
    @Test func linksAreFittedAndTheRingIsPredictedFromTwoRanks() throws {
        let a = try Self.analysis()
        #expect(a.fittedLinks.map(\.ranks) == [2, 4])
        for fitted in a.fittedLinks {
            #expect(fitted.samples.count == 2)
            #expect(abs(fitted.cost.beta - 1.1e8) / 1.1e8 < 1e-9)
        }
        #expect(a.ringChecks.count == 1)
        let ring = a.ringChecks[0]
        let two = try #require(a.calibration.linkCost(link: "1gbit", ranks: 2))
        let n = Double(1 << 24)
        let expected = 2 * 3 * two.alpha + 2 * 3 / 4 * 4 * n / two.beta
        #expect(ring.measuredSeconds == 0.95)
        #expect(abs(try #require(ring.predictedSeconds) - expected) < 1e-12)
        #expect(abs(try #require(ring.error) - (0.95 - expected) / expected) < 1e-12)
    }

    @Test func theExtrapolationTakesTheBestCodecAndTheMeasuredTCPEfficiency() throws {
        let e = try #require(try Self.analysis().extrapolation)
        #expect(e.bestCodec == Self.bf16)
        #expect(e.gradientSentFractions == [Self.bf16: 0.5])
        #expect(
            e.configurations == [
                .init(parallelism: .data, scheme: nil, codec: .none),
                .init(parallelism: .data, scheme: nil, codec: Self.bf16),
                .init(parallelism: .hybrid, scheme: .b, codec: .none),
                .init(parallelism: .hybrid, scheme: .b, codec: Self.bf16),
            ])
        #expect(abs(e.tcpEfficiency - 0.88) < 1e-9)  // β = 1.1e8 bytes/s on a 1 Gbit/s link
        #expect(e.profiles.map(\.hardware) == [.thisMachine, .gpu])
        let cpu = e.profiles[0], gpu = e.profiles[1]
        #expect(abs(cpu.imagesPerSecond - 32 / 2.5) < 1e-9)  // the one-rank point's compute
        #expect(abs(Double(gpu.model.compute.batch) / gpu.singleStepSeconds - Extrapolation.gpuImagesPerSecond) < 1e-9)
        for profile in e.profiles {
            #expect(profile.networks.map(\.bitsPerSecond) == Extrapolation.rates)
            for network in profile.networks {
                #expect(network.rows.map(\.ranks) == Extrapolation.ranks)
                #expect(abs(network.link.beta - network.bitsPerSecond * 0.88 / 8) < 1e-3)
            }
        }
    }

    /// Speedups never fall as the link gets faster; data parallelism, with one rank's compute plus traffic,
    /// never beats linear.
    @Test func speedupsGrowWithTheLinkRateAndDataIsNeverSuperlinear() throws {
        let e = try #require(try Self.analysis().extrapolation)
        for profile in e.profiles {
            for (slower, faster) in zip(profile.networks, profile.networks.dropFirst()) {
                for (a, b) in zip(slower.rows, faster.rows) {
                    for (x, y) in zip(a.speedups, b.speedups) {
                        #expect(y >= x - 1e-12, "\(profile.hardware) \(a.ranks)")
                    }
                }
            }
            for network in profile.networks {
                for row in network.rows {
                    for (c, speedup) in zip(e.configurations, row.speedups) where c.parallelism == .data {
                        #expect(speedup <= Double(row.ranks) * (1 + 1e-12))
                    }
                }
            }
        }
    }

    /// GPU-speed ranks on 10 Gbit/s: hybrid's small traffic wins on a few ranks, data's constant traffic
    /// per rank wins on 1024 (hybrid's feature exchange grows with K), and compressing data's gradients pays.
    @Test func onGPUsHybridWinsSmallClustersAndCompressedDataWinsLargeOnes() throws {
        let e = try #require(try Self.analysis().extrapolation)
        func speedup(_ parallelism: ParallelPlan.Parallelism, _ codec: Codec, ranks: Int) throws -> Double {
            let c = ScalingPoint.Configuration(parallelism: parallelism, scheme: .b, codec: codec)
            return try #require(e.speedup(.gpu, bitsPerSecond: 10e9, ranks: ranks, configuration: c))
        }
        #expect(try speedup(.hybrid, .none, ranks: 4) > speedup(.data, .none, ranks: 4))
        #expect(try speedup(.data, .none, ranks: 1024) > speedup(.hybrid, .none, ranks: 1024))
        #expect(try speedup(.data, Self.bf16, ranks: 1024) > speedup(.data, .none, ranks: 1024))
        #expect(e.speedup(.gpu, bitsPerSecond: 1e9, ranks: 4, configuration: e.configurations[0]) == nil)
    }

    /// The best 2-D layout: a G ≥ 2 dividing K and no wider than the narrowest FC layer; at 1024 GPU-speed
    /// ranks on 10 Gbit/s it sends far fewer bytes than data parallelism and is much faster; it never loses
    /// to Krizhevsky's hybrid over the whole world (G = K, scheme b, is among its candidates where valid).
    @Test func theBestTwoDimensionalLayoutIsSearchedOverEveryGroupSize() throws {
        let e = try #require(try Self.analysis().extrapolation)
        #expect(e.layoutCodecs == [.none, Self.bf16])
        let model = e.profiles[0].model
        func sizes(_ k: Int) -> [Int] {
            LayoutPlanner(costModel: model, network: .flat(e.profiles[0].networks[0].link), ranks: k).groupSizes
        }
        #expect(sizes(12) == [1, 2, 3, 4, 6, 12])
        #expect(sizes(1024).last == 512)  // fc8 has 1000 outputs
        let hybrid = try #require(
            e.configurations.firstIndex(of: .init(parallelism: .hybrid, scheme: .b, codec: .none)))
        for profile in e.profiles {
            for network in profile.networks {
                for row in network.rows {
                    let best = row.layouts[0]
                    #expect(best.groupSize >= 2 && row.ranks % best.groupSize == 0)
                    if row.ranks <= 512 { #expect(best.speedup >= row.speedups[hybrid] * (1 - 1e-12)) }
                    // The planner's choice is at least as fast as every column (it searches them all).
                    #expect(row.planned.speedup >= (row.speedups + row.layouts.map(\.speedup)).max()! * (1 - 1e-12))
                }
            }
        }
        let gpu = try #require(e.profiles.first { $0.hardware == .gpu })
        let row = try #require(gpu.networks.first { $0.bitsPerSecond == 10e9 }?.rows.last)
        #expect(row.ranks == 1024)
        #expect(row.layouts[0].speedup > 1.5 * row.speedups[0])
        #expect(row.dataBytesPerRank > 2 * row.layouts[0].bytesPerRank)
    }

    /// Data before hybrid, then by scheme, then by G (groups before the world), then by codec name: the order of the report's rows and lines.
    @Test func configurationsOrderDataFirstThenSchemeThenCodec() {
        let data = ScalingPoint.Configuration(parallelism: .data, scheme: .c, codec: .none)
        #expect(data.scheme == nil)
        #expect(ScalingPoint.Configuration(parallelism: .hybrid, scheme: nil, codec: .none).scheme == .b)
        let ordered: [ScalingPoint.Configuration] = [
            .init(parallelism: .data, scheme: nil, codec: Self.bf16),
            .init(parallelism: .data, scheme: nil, codec: .none),
            .init(parallelism: .hybrid, scheme: .a, codec: .none),
            .init(parallelism: .hybrid, scheme: .b, groupSize: 2, codec: .none),
            .init(parallelism: .hybrid, scheme: .b, groupSize: 4, codec: .none),
            .init(parallelism: .hybrid, scheme: .b, codec: Self.bf16),
            .init(parallelism: .hybrid, scheme: .b, codec: .none),
        ]
        #expect(ordered.reversed().sorted() == ordered)
        #expect(ordered[3].mode == "hybrid-b-g2" && ordered[3].groupSize(ranks: 8) == 2)
        #expect(ordered[5].mode == "hybrid-b" && ordered[5].groupSize(ranks: 8) == 8)
        #expect(ordered[0].groupSize(ranks: 8) == 1)
    }

    /// Note [compute reference]: a point measured with its own one-rank reference is predicted from it, and its
    /// compute drift is against it; a point without one keeps the one-rank point's.
    @Test func aPointsOwnReferenceIsItsCompute() throws {
        let a = try Self.analysis()
        var data = try Self.point(a, .data, ranks: 4, link: "1gbit")
        let one = try #require(a.single(data))
        #expect(try #require(a.costModel(for: data)).compute.convForward == one.phases.convForward)
        var reference = StepPhases()
        reference.convForward = 2 * one.phases.convForward
        reference.convBackward = 2 * one.phases.convBackward
        reference.fullyConnected = 0.5
        reference.update = 0.25
        data.reference = reference
        let model = try #require(a.costModel(for: data))
        #expect(model.compute.convForward == reference.convForward && model.compute.update == 0.25)
        #expect(model.compute.fullyConnected == 0.5)
        // 4 ranks on the analysis' 2 cores, undilated: twice the reference's conv forward is no drift.
        let drift = try #require(a.computeDrift(data))
        #expect(abs(drift - (data.phases.convForward / (2 * reference.convForward) - 1)) < 1e-12)
    }

    /// Note [step spread]: half the range of the timed steps over their median; the model's prediction is checked
    /// against the range as well as the median.
    @Test func theStepsSpreadAroundTheirMedianAndThePredictionIsPlacedInTheirRange() throws {
        let a = try Self.analysis()
        var data = try Self.point(a, .data, ranks: 4, link: "1gbit")
        data.stepSeconds = [2.4, 2.0, 2.2, 3.0, 2.5]
        data.medianStepSeconds = 2.4
        #expect(data.stepRange == 2.0...3.0)
        #expect(abs(try #require(data.stepSpread) - 0.5 / 2.4) < 1e-15)
        var inside = CostModel.Prediction()
        inside.compute = 2.9
        #expect(ScalingAnalysis.ModelCheck(point: data, prediction: inside).predictionWithinSteps)
        var outside = inside
        outside.exposedCommunication = 0.2
        #expect(!ScalingAnalysis.ModelCheck(point: data, prediction: outside).predictionWithinSteps)
        data.stepSeconds = []
        #expect(data.stepRange == nil && data.stepSpread == nil)
        #expect(!ScalingAnalysis.ModelCheck(point: data, prediction: inside).predictionWithinSteps)
    }
}
