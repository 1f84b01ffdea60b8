import Collectives
import Foundation

/// The report's modelled sections: the cost model against the measurements (with the fitted links and the
/// ring check) and the extrapolation to larger clusters.
extension ScalingReport {
    /// Which layout: at every link and rank count with two measured layouts or more, the measured fastest
    /// beside the one the cost model ranks first among them.
    func layoutSection() -> [String] {
        let rows = analysis.layoutComparisons
        guard !rows.isEmpty else { return [] }
        let within = rows.filter { $0.ratio <= 1.05 }.count
        var md = [
            "### Which layout", "",
            "At each link and rank count, the layout measured fastest beside the one the model ranks first among "
                + "the layouts measured there (what `alexnet-dist plan` and `train --parallel auto` would choose "
                + "from them). The model's choice is the measured fastest, or within 5% of it, at **\(within) of "
                + "\(rows.count)**.", "",
            "| link | ranks | measured fastest | its step s | the model's choice | its step s (predicted) | over the fastest |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows {
            let best = row.measuredFastest, chosen = row.modelChoice
            md.append(
                "| \(best.linkText) | \(best.ranks) | \(label(best)) | \(format(best.medianStepSeconds, 3)) | "
                    + "\(label(chosen)) | \(format(chosen.medianStepSeconds, 3)) (\(format(row.predictedSeconds, 3))) | "
                    + "\(row.ratio <= 1 ? "the same" : "+" + format((row.ratio - 1) * 100, 1) + "%") |")
        }
        md.append("")
        return md
    }

    func modelSection(_ charts: Gnuplot) throws -> [String] {
        let checks = analysis.modelChecks
        guard !checks.isEmpty else {
            return ["## Cost model", "", "No calibration: run `alexnet-dist bench scaling` (it calibrates).", ""]
        }
        try modelChart(checks, charts)
        let load = analysis.load
        var md = [
            "## Cost model against measurement", "",
            "![model](charts/model.png)", "",
            "Compute: the one-rank point's conv forward, conv backward, FC (with `other`) and update, slowed by "
                + "max(1, K·threads/\(calibration.cores) cores) when K ranks share the machine; a hybrid rank's FC "
                + "work is the same FLOPs (1/K of the neurons for K·B examples), its update the conv layers and 1/K "
                + "of the FC once per step, or all of it when the FC shards are updated per sub-batch (K rounds of "
                + "its 1/K, as the measured hybrid points ran). Communication: every collective of the rank's `ParallelPlan`, with its exact sizes, "
                + "at α·steps + bytes/β with the message steps `MPICommunicator` takes (chunks, agreements, ring "
                + "steps), α and β fitted to idle allreduce timings on the same link and rank count "
                + "(`calibration.json`). While the ranks compute, the cores are busy: every message step also waits "
                + "for a core (α_load = **\(format(load.alphaUnderLoad * 1e3, 2)) ms** per step); over TCP the "
                + "kernel's network work takes γ = **\(format(load.networkSecondsPerByte * 1e9, 2)) ns** of compute "
                + "per gradient byte sent while it computes (the FC stack's blocking exchanges pay theirs in the "
                + "time the calibration measured: Note [stolen by overlapped transfers]) and the codec's work on a "
                + "transfer thread gets a share "
                + "φ = **\(format(load.codecCoreShare, 2))** of the core its rank computes on; with as many "
                + "ranks as cores or more on shared memory the transfers are CPU work time-shared with the compute, "
                + "γ_shm = **\(format(load.sharedMemorySecondsPerByte * 1e9, 2)) ns** per byte sent, and only the last "
                + "bucket waits (Note [oversubscribed cores]); the four are fitted "
                + "to all the measured points together by least squares on the relative errors (root-mean-square "
                + "error **\(format(analysis.rmsFitError * 100, 1))%**; fitted to the largest error instead, the "
                + "noisiest point alone would decide them). Compressed gradients: "
                + "the point's measured bytes, the codec's measured encode/decode throughput. Overlap as described "
                + "in `CostModel`.", "",
            "Largest error: **\(format(analysis.largestModelError * 100, 1))%** over \(checks.count) points.", "",
        ]
        let referenced = checks.filter { $0.point.reference != nil }.count
        if referenced > 0 {
            md += [
                "The compute of \(referenced) of the \(checks.count) points is not the one-rank point's but their own "
                    + "reference: one rank alone on this machine, measured right before the point (Note [compute "
                    + "reference]: the shared host's speed drifts within a sweep).", "",
            ]
        }
        let retried = checks.filter { ($0.point.attempts ?? 1) > 1 }
        if !retried.isEmpty {
            let limit = ScalingPoint.computeDriftLimit
            let still = retried.filter { abs($0.computeDrift ?? 0) > limit }.count
            let extra = retried.map { ($0.point.attempts ?? 1) - 1 }.reduce(0, +)
            md += [
                "Measured again (Note [drift rule]): \(retried.count) of the \(checks.count) points, whose conv "
                    + "forward ran more than \(format(limit * 100, 0))% off their reference, each after a fresh "
                    + "reference (\(extra) extra runs in all); the attempt closest to its reference is the one shown, "
                    + "and \(still) stayed beyond \(format(limit * 100, 0))% in every attempt. The rule reads the "
                    + "conv forward only, never the step time or the model.", "",
            ]
        }
        md += errorSummary(checks)
        md += [
            "| link | ranks | configuration | measured s | its steps s | predicted s | error | predicted exposed comm s | conv forward vs model |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for check in checks {
            let p = check.point, prediction = check.prediction, error = check.error
            md.append(
                "| \(p.linkText) | \(p.ranks) | \(label(p)) | \(format(p.medianStepSeconds, 3)) | \(steps(p)) | "
                    + "\(format(prediction.stepSeconds, 3)) | "
                    + "\(signedPercent(error)) | \(format(prediction.exposedCommunication, 3)) | "
                    + "\(check.computeDrift.map(signedPercent) ?? "") |"
            )
        }
        md.append("")
        md += layoutSection()
        md.append("Fitted links (α per message step, β per rank):")
        md.append("")
        md.append("| link | ranks | α | β | fitted to |")
        md.append("|---|---|---|---|---|")
        for fitted in analysis.fittedLinks {
            let sizes = fitted.samples.map {
                "\(formatBytes(4 * Double($0.elements))) in \(format($0.seconds * 1e3, 1)) ms"
            }
            md.append(
                "| \(fitted.link)\(fitted.dilation == 1 ? "" : " ×\(formatFactor(fitted.dilation))") | \(fitted.ranks) | \(format(fitted.cost.alpha * 1e6, 0)) µs | \(format(fitted.cost.beta * 8 / 1e6, 0)) Mbit/s | \(sizes.joined(separator: "; ")) |"
            )
        }
        md.append("")
        md += ringCheckSection()
        return md
    }

    /// "+4.2%", "−0.3%".
    private func signedPercent(_ x: Double) -> String { "\(x >= 0 ? "+" : "")\(format(x * 100, 1))%" }

    /// How many points the model predicts within 10% and 5%, and of those beyond 10%, which ran their conv
    /// forward more than 10% away from the model's (the host's speed, not the model's terms) and which did not.
    private func errorSummary(_ checks: [ScalingAnalysis.ModelCheck]) -> [String] {
        let within10 = checks.filter { abs($0.error) <= 0.10 }.count
        let within5 = checks.filter { abs($0.error) <= 0.05 }.count
        let beyond = checks.filter { abs($0.error) > 0.10 }
        guard !beyond.isEmpty else {
            return ["Every point within 10% (\(within5) of \(checks.count) within 5%).", ""]
        }
        let limit = ScalingPoint.computeDriftLimit
        let drifted = beyond.filter { abs($0.computeDrift ?? 0) > limit }
        let rest = beyond.filter { abs($0.computeDrift ?? 0) <= limit }
        var md = [
            "Within 10%: **\(within10) of \(checks.count)** points (\(within5) within 5%). Of the \(beyond.count) beyond "
                + "10%, \(drifted.count) ran their conv forward more than 10% faster or slower than the model's (last "
                + "column): the same work in every layout, done before any transfer of the step, so what it is off by "
                + "is the shared host's speed while the point ran (\(stepCounts(checks)) timed steps per point; the "
                + "one-rank point's own steps, the model's compute, spread \(spread(checks)))."
        ]
        if !rest.isEmpty {
            let list = rest.map {
                "\($0.point.linkText) K = \($0.point.ranks) \(label($0.point)) (\(signedPercent($0.error)); steps "
                    + "\(steps($0.point)) s)"
            }
            md[0] +=
                " The other \(rest.count): " + list.joined(separator: "; ") + ". What the model does not price there: "
                + "a long transfer overlapping the compute of its own core runs slower than the idle link the "
                + "calibration timed (the model charges the kernel's work per byte to the compute, γ, but keeps the "
                + "transfer at the idle rate: on the AMD Zen 3 sweep the K = 2 data points' 244 MB moved at about "
                + "0.4 of it during the backward, the dilated rings' at 0.7–1; one γ splits the difference; on an "
                + "AMD Zen 4 the 1 Gbit/s K = 2 point's transfers ran at the idle rate in its fastest step and its "
                + "steps took 2.75–4.04 s); ranks "
                + "that lose unequal shares of their core to such transfers, where the step waits for the slowest "
                + "(the FC shards' allreduce across groups, in pairs or rings of K/G ranks; the model prices the "
                + "mean rank); the codec priced from its idle single-process throughput with one share φ of the "
                + "core; per message step one wait for a core (α_load) whatever the pattern, where under a CPU "
                + "quota a throttled peer answers a whole period late; oversubscribed shared memory's copies as one "
                + "CPU cost per byte (γ_shm) whatever the layout; and the one-rank point's own speed, which every "
                + "prediction scales with."
            md[0] += " " + stepSpreadSentence(checks, beyond: beyond)
        }
        md.append("")
        return md
    }

    /// How many of the points beyond 10% have the prediction between their fastest and slowest step, and how
    /// far the steps of those points and of the others stray from their median (Note [step spread]).
    private func stepSpreadSentence(
        _ checks: [ScalingAnalysis.ModelCheck], beyond: [ScalingAnalysis.ModelCheck]
    )
        -> String
    {
        func meanSpread(_ c: [ScalingAnalysis.ModelCheck]) -> String {
            let spreads = c.compactMap(\.point.stepSpread)
            return "±" + format(spreads.reduce(0, +) / Double(max(1, spreads.count)) * 100, 1) + "%"
        }
        let inside = beyond.filter(\.predictionWithinSteps).count
        let within = checks.filter { abs($0.error) <= 0.10 && $0.point.ranks > 1 }
        return "Their own steps are noisier (Note [step spread]): the prediction lies between the fastest and "
            + "slowest timed step of \(inside) of the \(beyond.count), and their steps spread \(meanSpread(beyond)) "
            + "around their median on average against \(meanSpread(within)) for the \(within.count) multi-rank "
            + "points within 10%."
    }

    /// "2.551–3.164": the fastest and slowest timed step of `p`.
    private func steps(_ p: ScalingPoint) -> String {
        guard let range = p.stepRange else { return "" }
        return "\(format(range.lowerBound, 3))–\(format(range.upperBound, 3))"
    }

    /// "5", or "3–5": the timed steps of the points.
    private func stepCounts(_ checks: [ScalingAnalysis.ModelCheck]) -> String {
        let counts = checks.map(\.point.steps)
        guard let lo = counts.min(), let hi = counts.max() else { return "no" }
        return lo == hi ? "\(lo)" : "\(lo)–\(hi)"
    }

    /// "1.100–1.265 s": the fastest and slowest timed step of the one-rank point.
    private func spread(_ checks: [ScalingAnalysis.ModelCheck]) -> String {
        guard let one = checks.first(where: { $0.point.ranks == 1 }), one.point.stepRange != nil else {
            return "unknown"
        }
        return steps(one.point) + " s"
    }

    private func ringCheckSection() -> [String] {
        let checks = analysis.ringChecks
        guard !checks.isEmpty else { return [] }
        var md = [
            "Ring check on the virtual cluster: `MPI_Allreduce` with Open MPI's ring algorithm "
                + "(`coll_tuned_allreduce_algorithm 4`) against the ring's cost 2(K−1)·α + 2(K−1)/K·n·4 bytes/β, "
                + "with α and β fitted on 2 hosts of the same link (so the 4-host figure is a prediction):", "",
            "| link | ranks | floats | MPI ring measured | ring predicted | error | alexnet-dist allreduce |",
            "|---|---|---|---|---|---|---|",
        ]
        for check in checks {
            guard let predicted = check.predictedSeconds, let error = check.error else { continue }
            let c = check.sample
            md.append(
                "| \(c.link) | \(c.ranks) | \(c.elements) | \(format(check.measuredSeconds * 1e3, 0)) ms | \(format(predicted * 1e3, 0)) ms | "
                    + "\(format(error * 100, 1))% | \(format(c.seconds * 1e3, 0)) ms |")
        }
        md.append("")
        return md
    }

    /// "data, none", "hybrid (b), bf16", "hybrid (b) G=2, none": an extrapolated configuration.
    func extrapolationLabel(_ c: ScalingPoint.Configuration) -> String {
        guard c.parallelism == .hybrid else { return "data, \(c.codec)" }
        return "hybrid (\((c.scheme ?? .b).rawValue))\(c.groupSize.map { " G=\($0)" } ?? ""), \(c.codec)"
    }

    func extrapolationSection(_ charts: Gnuplot) throws -> [String] {
        guard let extrapolation = analysis.extrapolation else { return [] }
        var md = [
            "## Extrapolation to larger clusters", "",
            "The calibrated model with one rank per node (no shared cores), links at 10, 25 and 100 Gbit/s with the "
                + "efficiency TCP reached on the virtual cluster (\(format(extrapolation.tcpEfficiency * 100, 0))% of the rate) and "
                + "α = \(format(Extrapolation.alpha * 1e6, 0)) µs per message step (an assumption: a real "
                + "network's latency cannot be measured here). Compressed gradients send the fraction measured in the "
                + "sweep. Speedup = K × step₁ / step_K (weak scaling). Two compute speeds: this machine's, measured, "
                + "where even 10 Gbit/s hides data parallelism's traffic behind backward; and a GPU's, assumed (the "
                + "2014 note's setting), where the traffic dominates. The 2014 note's speedups are set beside both. "
                + "\"2-D best\" is the fastest layout the model finds with the FC layers sharded within groups of G ≥ 2 "
                + "ranks and the K/G groups data-parallel (every G dividing K up to the narrowest FC layer's width, "
                + "schemes a, b, c), shown with its G and scheme; hybrid (b) is G = K. \"Planner's choice\" is what "
                + "`LayoutPlanner` (the `plan` command's and `train --parallel auto`'s) picks among every layout, G = 1 "
                + "included, and the codecs shown. Published AlexNet scaling beside it: the 2014 note's 1–8 K20 GPUs "
                + "(its own hybrid scheme, batch 128 per GPU) is comparable per device and is the last column. Larger "
                + "records are not comparable per device and are left out of the table: Tencent (2018: 1024 P40 GPUs, "
                + "58.7% top-1 in 4 minutes, batches up to 64K with LARS and mixed precision) and You et al. (2018: "
                + "1024–2048 Xeon CPUs, batch 32K, LARS) change the batch, the optimiser and the precision, so "
                + "their speedups measure a different computation.",
            "",
        ]
        let configurations = extrapolation.configurations
        for profile in extrapolation.profiles {
            md += ["Compute: \(title(profile)).", ""]
            md.append(
                "| link | ranks |" + configurations.map { " \(extrapolationLabel($0)) |" }.joined()
                    + extrapolation.layoutCodecs.map { " 2-D best, \($0) |" }.joined() + " planner's choice |"
                    + " 2014 note (K20 GPUs) |")
            md.append(
                "|---|---|"
                    + String(repeating: "---|", count: configurations.count + extrapolation.layoutCodecs.count + 2))
            for network in profile.networks {
                for row in network.rows {
                    let note =
                        Extrapolation.noteSpeedups.first { $0.ranks == row.ranks }.map { format($0.speedup) } ?? ""
                    md.append(
                        "| \(format(network.bitsPerSecond / 1e9, 0)) Gbit/s | \(row.ranks) |"
                            + row.speedups.map { " \(format($0, 1)) |" }.joined()
                            + row.layouts.map {
                                " \(format($0.speedup, 1)) (G \($0.groupSize), \($0.scheme.rawValue)) |"
                            }
                            .joined() + " \(plannedText(row.planned)) | \(note) |")
                }
            }
            md.append("")
            md += layoutSummary(profile)
        }
        try extrapolationChart(extrapolation, charts)
        md.append("![extrapolation](charts/extrapolation.png)")
        md.append("")
        return md
    }

    /// "932.3 (G 4, b, none)", or "469.0 (data, bf16)".
    private func plannedText(_ layout: Extrapolation.Layout) -> String {
        let shape = layout.groupSize == 1 ? "data" : "G \(layout.groupSize), \(layout.scheme.rawValue)"
        return "\(format(layout.speedup, 1)) (\(shape), \(layout.codec))"
    }

    /// The largest cluster on the slowest link: the bytes and speed of the best 2-D layout beside data
    /// parallelism's, both uncompressed; and where data parallelism is faster than every 2-D layout, why.
    private func layoutSummary(_ profile: Extrapolation.Profile) -> [String] {
        guard let network = profile.networks.first, let row = network.rows.last, let layout = row.layouts.first,
            let data = row.speedups.first
        else { return [] }
        let ratio = row.dataBytesPerRank / layout.bytesPerRank
        var md = [
            "At \(row.ranks) ranks on \(format(network.bitsPerSecond / 1e9, 0)) Gbit/s, uncompressed: data parallelism "
                + "sends \(formatBytes(row.dataBytesPerRank)) per rank per step, the best 2-D layout (G = "
                + "\(layout.groupSize), scheme \(layout.scheme.rawValue)) \(formatBytes(layout.bytesPerRank)) "
                + (ratio >= 1 ? "(\(format(ratio, 2))× fewer)" : "(\(format(1 / ratio, 2))× more)")
                + "; speedup \(format(layout.speedup, 1)) against \(format(data, 1)) (\(format(layout.speedup / data, 2))×).",
            "",
        ]
        // Uncompressed: data parallelism against the best 2-D layout, where data parallelism wins.
        let losses = profile.networks.flatMap { network in
            network.rows.compactMap { row -> (Double, Extrapolation.Row)? in
                guard let layout = row.layouts.first, let data = row.speedups.first, layout.speedup < data else {
                    return nil
                }
                return (network.bitsPerSecond, row)
            }
        }
        guard !losses.isEmpty else {
            md += [
                "Uncompressed, the best 2-D layout is at least as fast as data parallelism at every rank count and rate.",
                "",
            ]
            return md
        }
        let worst = losses.max { a, b in
            a.1.layouts[0].speedup / a.1.speedups[0] > b.1.layouts[0].speedup / b.1.speedups[0]
        }!
        let places = losses.map { "\(format($0.0 / 1e9, 0)) Gbit/s × \($0.1.ranks)" }.joined(separator: ", ")
        let w = worst.1, best = w.layouts[0]
        let why =
            w.dataExposedSeconds < best.exposedSeconds
            ? "There its gradient allreduce hides behind the conv backward (exposed: "
                + "\(format(w.dataExposedSeconds * 1e3, 1)) ms per step), so sending fewer gradient bytes gains nothing, "
                + "while a group's own exchanges block its FC stack (round 0's features, the FC outputs' all-gathers, "
                + "the input gradients' reduce-scatters: the best layout, G = \(best.groupSize) scheme "
                + "\(best.scheme.rawValue), exposes \(format(best.exposedSeconds * 1e3, 1)) ms). The model is right to "
                + "prefer data parallelism there; the layouts' gain starts where data parallelism's traffic outlasts "
                + "the backward."
            : "There data parallelism exposes \(format(w.dataExposedSeconds * 1e3, 1)) ms of communication per step "
                + "and the best layout (G = \(best.groupSize), scheme \(best.scheme.rawValue)) "
                + "\(format(best.exposedSeconds * 1e3, 1)) ms: the layout's smaller update does not make up the difference."
        md += [
            "Uncompressed, data parallelism is faster than every 2-D layout at \(places) (at most "
                + "\(format((1 - best.speedup / w.speedups[0]) * 100, 1))% faster, at \(format(worst.0 / 1e9, 0)) Gbit/s × "
                + "\(w.ranks)). " + why,
            "",
        ]
        return md
    }

    private func title(_ profile: Extrapolation.Profile) -> String {
        let batch = profile.model.compute.batch
        switch profile.hardware {
        case .thisMachine:
            return "this machine's CPU, 1 thread per rank, \(batch) images per rank "
                + "(measured: \(format(profile.imagesPerSecond, 1)) images/s)"
        case .gpu:
            return "a K20-class GPU per rank, \(batch) images per rank "
                + "(assumed: \(format(profile.imagesPerSecond, 0)) images/s, the measured profile scaled)"
        }
    }
}
