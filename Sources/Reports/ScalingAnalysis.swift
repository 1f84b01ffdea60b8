import Collectives
import Compute
import Training

/// Every figure of a scaling report that is computed rather than measured, from a results folder's points
/// and its calibration: the scaling efficiency, the headline comparison, the cost model with its load
/// parameters fitted to the points, its prediction of every point, the fitted links, the ring check and the
/// extrapolation to larger clusters. Plain values, no files: `ScalingReport` formats them.
public struct ScalingAnalysis {
    /// At the largest rank count of a link: the data baseline without compression against the hybrid
    /// configuration with the most images/s.
    public struct Headline: Sendable {
        public var link: Link
        public var ranks: Int
        public var data: ScalingPoint
        public var hybrid: ScalingPoint
        /// Hybrid images/s over data images/s.
        public var speedup: Double { hybrid.imagesPerSecond / data.imagesPerSecond }
    }

    /// The cost model's step of a measured point, with the fitted load.
    public struct ModelCheck: Sendable {
        public var point: ScalingPoint
        public var prediction: CostModel.Prediction
        /// (predicted − measured) / measured, of the median step.
        public var error: Double {
            (prediction.stepSeconds - point.medianStepSeconds) / point.medianStepSeconds
        }
        /// The point's conv forward over the model's (the one-rank point's, slowed where ranks share cores),
        /// minus 1: the same work in every layout, run before any transfer of the step, so what it is off by
        /// is the machine's speed while the point ran (a shared host). Nil for the one-rank point itself.
        public var computeDrift: Double?
        /// The prediction lies between the point's fastest and slowest timed step (Note [step spread]).
        public var predictionWithinSteps: Bool { point.stepRange?.contains(prediction.stepSeconds) ?? false }
    }

    /// α and β of one link and rank count (`Calibration.linkCost`) and the samples they were fitted to.
    public struct FittedLink: Sendable {
        public var link: Link
        public var ranks: Int
        /// The time dilation of the samples (1: none).
        public var dilation: Double
        public var cost: CostModel.LinkCost
        public var samples: [Calibration.AllReduceSample]
    }

    /// `MPI_Allreduce` forced to Open MPI's ring algorithm against the ring's α–β cost
    /// 2(K−1)·α + 2(K−1)/K·n·4 bytes/β, with α and β fitted on 2 ranks of the same link.
    public struct RingCheck: Sendable {
        public var sample: Calibration.AllReduceSample
        /// `MPI_Allreduce`'s median.
        public var measuredSeconds: Double
        /// Nil without a 2-rank fit of the link.
        public var predictedSeconds: Double?
        /// (measured − predicted) / predicted.
        public var error: Double? { predictedSeconds.map { (measuredSeconds - $0) / $0 } }
    }

    /// At one link, rank count and dilation with two measured layouts or more: the measured fastest beside the
    /// one the cost model ranks first among them (the planner's choice, Note [choosing a layout]).
    public struct LayoutComparison: Sendable {
        public var measuredFastest: ScalingPoint
        public var modelChoice: ScalingPoint
        /// The model's predicted step of its choice.
        public var predictedSeconds: Double
        /// The choice's measured step over the fastest's: 1 when the model picked the measured fastest.
        public var ratio: Double { modelChoice.medianStepSeconds / measuredFastest.medianStepSeconds }
    }

    public let results: ScalingResults
    public let calibration: Calibration
    /// The load that makes the squared relative errors of the cost model over the multi-rank points smallest
    /// (`CostModel.fitLoad`).
    public private(set) var load = CostModel.Load.idle
    /// Their root-mean-square relative error at that load.
    public private(set) var rmsFitError = 0.0
    /// One row per link with a multi-rank data baseline and hybrid point, shared memory first.
    public private(set) var headline: [Headline] = []
    /// Every point the model can predict (those with a one-rank point and a fitted link), in results order.
    public private(set) var modelChecks: [ModelCheck] = []
    /// Every link and rank count of the calibration with a fit, shared memory first, ranks ascending.
    public private(set) var fittedLinks: [FittedLink] = []
    /// Every ring measurement, by link.
    public private(set) var ringChecks: [RingCheck] = []
    /// Every link, rank count and dilation with two layouts or more, shared memory first.
    public private(set) var layoutComparisons: [LayoutComparison] = []
    /// The model carried to larger clusters; nil without a point the model can be built from.
    public private(set) var extrapolation: Extrapolation?

    public init(results: ScalingResults, calibration: Calibration) {
        self.results = results
        self.calibration = calibration
        let points = results.points
        // The plan's traffic and the compute profile are computed once per point; the fit varies only the load.
        // (`unfitted` is a copy the closures can capture while `self` is being initialised; `predictor` and
        // `costModel` do not read the load.)
        let unfitted = self
        let fitted = points.filter { $0.ranks > 1 }.compactMap {
            p -> (predict: (CostModel.Load) -> Double, measured: Double)? in
            guard let predict = unfitted.predictor(p) else { return nil }
            return ({ predict($0).stepSeconds }, p.medianStepSeconds)
        }
        let fit = CostModel.fitLoad(fitted)
        load = fit.load
        rmsFitError = fit.rms
        headline = Self.headline(points)
        let fittedLoad = load
        modelChecks = points.compactMap { p in
            unfitted.predictor(p).map {
                ModelCheck(point: p, prediction: $0(fittedLoad), computeDrift: unfitted.computeDrift(p))
            }
        }
        layoutComparisons = Self.layoutComparisons(modelChecks)
        fittedLinks = Self.fittedLinks(calibration)
        ringChecks = Self.ringChecks(calibration)
        if let reference = points.first(where: { $0.ranks > 1 }) ?? points.first,
            let model = unfitted.costModel(for: reference)
        {
            extrapolation = Extrapolation(model: model, calibration: calibration, points: points)
        }
    }

    /// The largest |error| of `modelChecks` (the one-rank points included).
    public var largestModelError: Double { modelChecks.map { abs($0.error) }.max() ?? 0 }

    // MARK: Per point

    /// The one-rank point of `p`'s variant, batch and threads: throughput₁ and the model's compute profile.
    public func single(_ p: ScalingPoint) -> ScalingPoint? {
        results.points.first {
            $0.ranks == 1 && $0.variant == p.variant && $0.batchPerRank == p.batchPerRank
                && $0.threadsPerRank == p.threadsPerRank
        }
    }

    /// throughput_K / (K × throughput_1); nil without the one-rank point.
    public func efficiency(_ p: ScalingPoint) -> Double? {
        single(p).map { p.imagesPerSecond / (Double(p.ranks) * $0.imagesPerSecond) }
    }

    /// `ModelCheck.computeDrift` of `p` (Note [compute drift]): against its own reference where the sweep measured
    /// one, else the one-rank point's.
    func computeDrift(_ p: ScalingPoint) -> Double? {
        guard let reference = p.reference ?? single(p)?.phases else { return nil }
        return p.computeDrift(reference: reference, machineCores: calibration.cores)
    }

    /// The cost model of `p`'s variant and batch, its compute the one-rank point's phases, or the point's own
    /// compute reference where it has one.
    public func costModel(for p: ScalingPoint) -> CostModel? {
        guard let one = single(p), let model = AlexNet.named(p.variant) else { return nil }
        // The point's own compute reference where the sweep measured one (Note [compute reference]).
        let ph = p.reference ?? one.phases
        let compute = CostModel.Compute(
            convForward: ph.convForward, convBackward: ph.convBackward, fullyConnected: ph.fullyConnected + ph.other,
            update: ph.update, batch: p.batchPerRank, threads: p.threadsPerRank)
        // A dilated point emulates K hosts with their own cores (Note [time dilation]): D times this machine's.
        return CostModel(
            model: model, compute: compute, cores: p.cores(machine: calibration.cores), codecs: calibration.codecs)
    }

    /// The model's step time for a measured point with the fitted load (nil without its calibration).
    public func predicted(_ p: ScalingPoint) -> CostModel.Prediction? { predictor(p)?(load) }

    /// The model of a measured point as a function of the load: the plan's traffic and the compute profile
    /// are worked out once, here. Nil without the one-rank point or the link's fit at `p`'s rank count.
    public func predictor(_ p: ScalingPoint) -> ((CostModel.Load) -> CostModel.Prediction)? {
        guard let model = costModel(for: p) else { return nil }
        let link =
            p.ranks > 1
            ? calibration.linkCost(link: p.link.name, ranks: p.ranks, dilation: p.dilation ?? 1)
            : CostModel.LinkCost(alpha: 0, beta: 1)
        guard let link else { return nil }
        let traffic = model.traffic(groupSize: p.groupSize, scheme: p.scheme ?? .b, ranks: p.ranks)
        return { load in
            var loaded = model
            loaded.load = load
            // A dilated point's cores are its emulated hosts' (`costModel(for:)`), so compute is not slowed by
            // sharing; but each host's compute thread still shares its core with its transfer thread and the
            // kernel's network work, as on the measured points.
            return loaded.predict(
                traffic, codec: p.codec, link: link, sharedCores: true,
                gradientSentFraction: 1 / p.gradientCompressionRatio, overTCP: !p.link.isLocal)
        }
    }

    // MARK: Tables

    static func headline(_ points: [ScalingPoint]) -> [Headline] {
        var rows: [Headline] = []
        for link in Set(points.map(\.link)).sorted() {
            let here = points.filter { $0.link == link }
            guard let k = here.map(\.ranks).max(), k > 1,
                let data = here.first(where: { $0.ranks == k && $0.parallelism == .data && $0.codec == .none }),
                let hybrid = here.filter({ $0.ranks == k && $0.parallelism == .hybrid }).max(by: {
                    $0.imagesPerSecond < $1.imagesPerSecond
                })
            else { continue }
            rows.append(Headline(link: link, ranks: k, data: data, hybrid: hybrid))
        }
        return rows
    }

    static func layoutComparisons(_ checks: [ModelCheck]) -> [LayoutComparison] {
        let multi = checks.filter { $0.point.ranks > 1 }
        var rows: [LayoutComparison] = []
        for link in Set(multi.map(\.point.link)).sorted() {
            let here = multi.filter { $0.point.link == link }
            for k in Set(here.map(\.point.ranks)).sorted() {
                for d in Set(here.filter { $0.point.ranks == k }.map { $0.point.dilation ?? 1 }).sorted() {
                    let group = here.filter { $0.point.ranks == k && ($0.point.dilation ?? 1) == d }
                    guard group.count >= 2,
                        let fastest = group.min(by: { $0.point.medianStepSeconds < $1.point.medianStepSeconds }),
                        let chosen = group.min(by: { $0.prediction.stepSeconds < $1.prediction.stepSeconds })
                    else { continue }
                    rows.append(
                        LayoutComparison(
                            measuredFastest: fastest.point, modelChoice: chosen.point,
                            predictedSeconds: chosen.prediction.stepSeconds))
                }
            }
        }
        return rows
    }

    static func fittedLinks(_ calibration: Calibration) -> [FittedLink] {
        var rows: [FittedLink] = []
        for link in Set(calibration.allreduce.map(\.link)).sorted() {
            let here = calibration.allreduce.filter { $0.link == link }
            for k in Set(here.map(\.ranks)).sorted() {
                for d in Set(here.filter { $0.ranks == k }.map { $0.dilation ?? 1 }).sorted() {
                    guard let cost = calibration.linkCost(link: link.name, ranks: k, dilation: d) else { continue }
                    rows.append(
                        FittedLink(
                            link: link, ranks: k, dilation: d, cost: cost,
                            samples: calibration.samples(link: link.name, ranks: k, dilation: d)))
                }
            }
        }
        return rows
    }

    static func ringChecks(_ calibration: Calibration) -> [RingCheck] {
        let measured = calibration.allreduce.filter { $0.mpiAlgorithm == "ring" && $0.mpiSeconds != nil }
        return measured.sorted(by: { $0.link < $1.link }).map { c in
            let k = Double(c.ranks)
            let predicted = calibration.linkCost(link: c.link.name, ranks: 2).map { cost in
                2 * (k - 1) * cost.alpha + 2 * (k - 1) / k * 4 * Double(c.elements) / cost.beta
            }
            return RingCheck(sample: c, measuredSeconds: c.mpiSeconds!, predictedSeconds: predicted)
        }
    }
}
