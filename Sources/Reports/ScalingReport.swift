import Collectives
import Compute
import Foundation
import Training

/// Turns a results folder (`ScalingResults`) into a report folder a person reads: `report.md` with tables and
/// gnuplot charts (`charts/`), the Chrome traces of the headline points (`traces/`), and copies of the raw
/// results the figures come from, so that `alexnet-dist report` on the report folder regenerates it.
public struct ScalingReport {
    public let results: ScalingResults
    public let calibration: Calibration
    /// The model's latency per message step on busy cores, fitted to the measured points, and the largest
    /// relative error it leaves (`CostModel.fitLoadLatency`).
    public private(set) var alphaUnderLoad = 0.0
    public private(set) var backgroundBandwidthShare = 1.0
    public private(set) var networkSecondsPerByte = 0.0
    public private(set) var largestError = 0.0
    /// The 2014 note's speedups on K20 GPUs (REFERENCE.md §4), by GPU count.
    public static let noteSpeedups: [(ranks: Int, speedup: Double)] = [(1, 1), (2, 1.93), (4, 3.66), (8, 6.16)]
    /// Extrapolation: rank counts and link rates (bits/s), and the per-message latency assumed there.
    public static let extrapolatedRanks = [8, 16, 32, 64, 128, 256, 512, 1024]
    public static let extrapolatedRates: [Double] = [10e9, 25e9, 100e9]
    public static let extrapolatedAlpha = 10e-6
    /// The assumed training throughput of one K20-class GPU on `owt` (the 2014 note's hardware): ~4.3 GFLOP
    /// per image forward and backward at ~1.7 of the K20's 3.5 TFLOP/s.
    public static let gpuImagesPerSecond = 400.0

    public init(results: ScalingResults) throws {
        self.results = results
        calibration = try Calibration.load(results.calibrationPath)
        guard !results.points.isEmpty else {
            throw ReportError("\(results.jsonLinesPath) holds no points: run alexnet-dist bench scaling first")
        }
        // The plan's traffic and the compute profile are computed once per point; the fit varies only the load.
        let unfitted = self
        let fitted = results.points.filter { $0.ranks > 1 }.compactMap {
            p -> (predict: (Double, Double, Double) -> Double, measured: Double)? in
            guard let predict = unfitted.predictor(p) else { return nil }
            return ({ predict(($0, $1, $2)).stepSeconds }, p.medianStepSeconds)
        }
        (alphaUnderLoad, backgroundBandwidthShare, networkSecondsPerByte, largestError) = CostModel.fitLoad(fitted)
    }

    // MARK: Derived figures

    /// The one-rank point of `p`'s variant, batch and threads: throughput₁ and the model's compute profile.
    func single(_ p: ScalingPoint) -> ScalingPoint? {
        results.points.first {
            $0.ranks == 1 && $0.variant == p.variant && $0.batchPerRank == p.batchPerRank
                && $0.threadsPerRank == p.threadsPerRank
        }
    }

    /// throughput_K / (K × throughput_1).
    func efficiency(_ p: ScalingPoint) -> Double? {
        single(p).map { p.imagesPerSecond / (Double(p.ranks) * $0.imagesPerSecond) }
    }

    func costModel(for p: ScalingPoint) -> CostModel? {
        guard let one = single(p), let model = AlexNet.named(p.variant) else { return nil }
        let ph = one.phases
        let compute = CostModel.Compute(
            convForward: ph.convForward, convBackward: ph.convBackward, fullyConnected: ph.fullyConnected + ph.other,
            update: ph.update, batch: p.batchPerRank, threads: p.threadsPerRank)
        return CostModel(model: model, compute: compute, cores: calibration.cores, codecs: calibration.codecs)
    }

    /// The model's step time for a measured point with the fitted load (nil without its calibration).
    func predicted(_ p: ScalingPoint) -> CostModel.Prediction? {
        predictor(p)?((alphaUnderLoad, backgroundBandwidthShare, networkSecondsPerByte))
    }

    /// The model of a measured point as a function of the load parameters (α_load, φ, γ): the plan's traffic
    /// and the compute profile are worked out once, here.
    func predictor(
        _ p: ScalingPoint
    ) -> (((alpha: Double, share: Double, secondsPerByte: Double)) -> CostModel.Prediction)? {
        guard let model = costModel(for: p) else { return nil }
        let link =
            p.ranks > 1
            ? calibration.linkCost(link: p.link.name, ranks: p.ranks) : CostModel.LinkCost(alpha: 0, beta: 1)
        guard let link else { return nil }
        let traffic = model.traffic(
            parallelism: p.parallelism, scheme: p.scheme ?? .b, ranks: p.ranks)
        return { load in
            var loaded = model
            loaded.alphaUnderLoad = load.alpha
            loaded.backgroundBandwidthShare = load.share
            loaded.networkSecondsPerByte = load.secondsPerByte
            return loaded.predict(
                traffic, codec: p.codec, link: link, sharedCores: true,
                gradientSentFraction: 1 / p.gradientCompressionRatio, overTCP: !p.link.isLocal)
        }
    }

    /// For each link, at the largest rank count: the data baseline without compression against the hybrid
    /// configuration with the most images/s.
    func headline() -> [(link: Link, ranks: Int, data: ScalingPoint, hybrid: ScalingPoint)] {
        var rows: [(Link, Int, ScalingPoint, ScalingPoint)] = []
        for link in Set(results.points.map(\.link)).sorted() {
            let here = results.points.filter { $0.link == link }
            guard let k = here.map(\.ranks).max(), k > 1,
                let data = here.first(where: { $0.ranks == k && $0.parallelism == .data && $0.codec == .none }),
                let hybrid = here.filter({ $0.ranks == k && $0.parallelism == .hybrid }).max(by: {
                    $0.imagesPerSecond < $1.imagesPerSecond
                })
            else { continue }
            rows.append((link, k, data, hybrid))
        }
        return rows
    }

    // MARK: Writing

    /// Writes the report into `directory`; returns the path of `report.md`.
    @discardableResult
    public func write(to directory: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/traces", withIntermediateDirectories: true)
        // The raw results travel with the report (unless it is written into the results folder itself).
        let source = URL(fileURLWithPath: results.directory).standardizedFileURL.path
        let target = URL(fileURLWithPath: directory).standardizedFileURL.path
        if source != target {
            for name in ["results.jsonl", "results.csv", "calibration.json"] {
                guard let data = fm.contents(atPath: results.directory + "/" + name) else { continue }
                try AtomicFile.write(directory + "/" + name, data: Array(data))
            }
        }
        let charts = try Gnuplot(directory: directory + "/charts")
        var md: [String] = []
        let points = results.points
        let first = points[0]
        md.append("# Scaling report: `\(first.variant)`, \(first.batchPerRank) images per rank per step")
        md.append("")
        md.append(
            "Generated by `alexnet-dist report` from `results.jsonl` (\(points.count) measured points, each a real "
                + "`mpirun` run of `alexnet-dist bench training`) and `calibration.json`. Images are synthetic "
                + "(seeded random pixels and labels): a step's work and traffic do not depend on what they show. "
                + "Every figure below is computed from those two files; `alexnet-dist report \(directory)` "
                + "regenerates this page from the copies kept here.")
        md.append("")
        md += machineSection()
        md += headlineSection()
        md += try scalingSection(charts)
        md += try phasesSection(charts)
        md += try bytesSection(charts)
        md += try linkSection(charts)
        md += try modelSection(charts)
        md += try extrapolationSection(charts)
        md += try tracesSection(directory)
        md += pointsSection()
        md += methodsSection()
        let path = directory + "/report.md"
        try AtomicFile.write(path, data: Array(md.joined(separator: "\n").utf8))
        return path
    }

    private func machineSection() -> [String] {
        let threads = Set(results.points.map(\.threadsPerRank)).sorted().map(String.init).joined(separator: ", ")
        return [
            "**Machine**: \(calibration.machine ?? "not recorded"), \(calibration.cores) cores shared by every rank "
                + "(and every virtual host); \(threads) compute thread(s) per rank. The virtual cluster "
                + "(`cluster/vcluster`) runs each rank in its own network namespace, with every link shaped by "
                + "HTB to the rate shown; all hosts share the same cores, so compute does not scale with ranks "
                + "here: efficiency below 1 at 4 ranks on 2 cores is the cores, not the method.",
            "",
        ]
    }

    private func format(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

    private func label(_ p: ScalingPoint) -> String {
        p.parallelism == .data ? "data \(p.codec)" : "hybrid (\((p.scheme ?? .b).rawValue)) \(p.codec)"
    }

    private func headlineSection() -> [String] {
        var md = [
            "## Hybrid against the data-parallel baseline", "",
            "At the largest rank count of each link: the `data` baseline (every layer replicated, the whole "
                + "gradient allreduced without compression in buckets overlapped with backward, as Horovod or DDP "
                + "run it) against the fastest hybrid configuration measured.", "",
            "| link | ranks | data, none: images/s | best hybrid | images/s | hybrid ÷ data | bytes/rank/step data → hybrid |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in headline() {
            md.append(
                "| \(row.link) | \(row.ranks) | \(format(row.data.imagesPerSecond)) (\(format(row.data.imagesPerSecondMin))–\(format(row.data.imagesPerSecondMax))) | "
                    + "\(label(row.hybrid)) | \(format(row.hybrid.imagesPerSecond)) (\(format(row.hybrid.imagesPerSecondMin))–\(format(row.hybrid.imagesPerSecondMax))) | "
                    + "**\(format(row.hybrid.imagesPerSecond / row.data.imagesPerSecond))×** | "
                    + "\(formatBytes(row.data.bytesSentPerRank)) → \(formatBytes(row.hybrid.bytesSentPerRank)) |")
        }
        md.append("")
        return md
    }

    /// Lines of (ranks, images/s) per configuration and link.
    /// One panel per link (2 columns), for charts that would otherwise carry a line per link × configuration.
    private func panels(_ count: Int, title: String) -> String {
        let columns = min(2, count), rows = (count + columns - 1) / columns
        return "set multiplot layout \(rows),\(columns) title '\(title)' font ',13'"
    }

    private func scalingSection(_ charts: Gnuplot) throws -> [String] {
        let multi = results.points.filter { $0.ranks > 1 }
        guard !multi.isEmpty else { return [] }
        let links = Set(multi.map(\.link)).sorted()
        let configurations = Set(multi.map(label)).sorted()
        var data: [[String]] = []
        var index = 0
        var panelsOf: [(Link, [(Int, String)])] = []
        for link in links {
            var series: [(Int, String)] = []
            for name in configurations {
                var rows = multi.filter { $0.link == link && label($0) == name }.sorted { $0.ranks < $1.ranks }
                guard !rows.isEmpty else { continue }
                if let one = single(rows[0]) { rows.insert(one, at: 0) }
                for p in rows {
                    data.append([
                        "\(p.ranks)", format(p.imagesPerSecond, 3), efficiency(p).map { format($0, 4) } ?? "?",
                    ])
                }
                data += [[], []]
                series.append((index, name))
                index += 1
            }
            panelsOf.append((link, series))
        }
        let ranks = Set(results.points.map(\.ranks)).sorted().map(String.init).joined(separator: ", ")
        func script(_ file: String, column: Int, title: String, ylabel: String, extra: String) -> String {
            var lines = [
                panels(links.count, title: title), "set xlabel 'ranks'", "set ylabel '\(ylabel)'",
                "set xtics (\(ranks))", "set key inside right bottom font ',8' spacing 0.9", extra,
            ]
            for (link, series) in panelsOf {
                lines.append("set title '\(link)'")
                let plots = series.map { (i, name) in
                    "'\(file).dat' index \(i) using 1:\(column) with linespoints lw 2 lc \(configurations.firstIndex(of: name)! + 1) title \(Gnuplot.quoted(name))"
                }
                lines.append("plot " + plots.joined(separator: ", \\\n     "))
            }
            lines.append("unset multiplot")
            return lines.joined(separator: "\n")
        }
        try charts.render(
            "throughput", data: data,
            script: script(
                "throughput", column: 2, title: "Throughput against ranks", ylabel: "images/s (median step)",
                extra: "set yrange [0:*]"), size: (1100, 820))
        let hasEfficiency = multi.contains { efficiency($0) != nil }
        if hasEfficiency {
            try charts.render(
                "efficiency", data: data,
                script: script(
                    "efficiency", column: 3, title: "Scaling efficiency: throughput_K / (K × throughput_1)",
                    ylabel: "efficiency", extra: "set yrange [0:1.1]"), size: (1100, 820))
        }
        return [
            "## Throughput and efficiency against ranks", "",
            "![throughput](charts/throughput.png)", "",
            hasEfficiency ? "![efficiency](charts/efficiency.png)" : "(No one-rank point: no efficiency.)", "",
            "Throughput₁ is one rank in one process with the same threads and batch (\(single(multi[0]).map { format($0.imagesPerSecond) } ?? "not measured") images/s). "
                + "With K ranks on \(calibration.cores) cores, each rank gets \(calibration.cores)/K of them once K exceeds the cores: "
                + "the best possible efficiency here is min(1, cores / K).", "",
        ]
    }

    private static let phaseNames = [
        "conv forward", "conv backward", "FC", "update", "communication (exposed)", "other",
    ]

    private func phaseValues(_ p: StepPhases) -> [Double] {
        [p.convForward, p.convBackward, p.fullyConnected, p.update, p.communicationExposed, p.other]
    }

    private func phasesSection(_ charts: Gnuplot) throws -> [String] {
        let k = results.points.map(\.ranks).max() ?? 1
        let shown = results.points.filter { $0.ranks == k }.sorted {
            ($0.link, label($0)) < ($1.link, label($1))
        }
        guard !shown.isEmpty else { return [] }
        let links = Set(shown.map(\.link)).sorted()
        var data: [[String]] = []
        var lines = [
            panels(links.count, title: "Where a step goes, \(k) ranks (mean over ranks)"),
            "set style data histograms", "set style histogram rowstacked", "set style fill solid 0.85 border -1",
            "set boxwidth 0.7", "set ylabel 'seconds per step'", "set xtics rotate by -30 left font ',9'",
            "set yrange [0:\(format((shown.map(\.medianStepSeconds).max() ?? 1) * 1.08, 2))]",
            "set key inside left top font ',9'",
        ]
        for (i, link) in links.enumerated() {
            for p in shown where p.link == link {
                data.append([Gnuplot.quoted(label(p))] + phaseValues(p.phases).map { format($0, 4) })
            }
            data += [[], []]
            let columns = ScalingReport.phaseNames.enumerated().map { c, name in
                "'phases.dat' index \(i) using \(c + 2)\(c == 0 ? ":xtic(1)" : "") lc \(c + 1) \(i == 0 ? "title \(Gnuplot.quoted(name))" : "notitle")"
            }
            lines += ["set title '\(link)'", "plot " + columns.joined(separator: ", ")]
        }
        lines.append("unset multiplot")
        try charts.render("phases", data: data, script: lines.joined(separator: "\n"), size: (1200, 900))
        var md = [
            "## Where the time goes", "",
            "![phases](charts/phases.png)", "",
            "Each rank's step is split into its compute thread's work (conv forward, conv backward, the FC stack "
                + "with the loss, the update), the time it was blocked in collectives or waiting for transfer "
                + "threads (**exposed** communication) and the rest. Communication that ran on transfer threads "
                + "while the compute thread worked is **overlapped**; compression is the codecs' time on any "
                + "thread. From each point's `Timeline` (`StepPhases`), mean over ranks and timed steps.", "",
            "| link | configuration | step s | conv fwd | conv bwd | FC | update | comm exposed | comm overlapped | compression | other |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for p in shown {
            let ph = p.phases
            md.append(
                "| \(p.link) | \(label(p)) | \(format(p.medianStepSeconds, 3)) | \(format(ph.convForward, 3)) | \(format(ph.convBackward, 3)) | "
                    + "\(format(ph.fullyConnected, 3)) | \(format(ph.update, 3)) | \(format(ph.communicationExposed, 3)) | "
                    + "\(format(ph.communicationOverlapped, 3)) | \(format(ph.compression, 3)) | \(format(ph.other, 3)) |"
            )
        }
        md.append("")
        return md
    }

    private func bytesSection(_ charts: Gnuplot) throws -> [String] {
        let k = results.points.map(\.ranks).max() ?? 1
        var seen = Set<String>()
        let shown = results.points.filter { $0.ranks == k }.sorted { label($0) < label($1) }.filter {
            seen.insert(label($0)).inserted
        }
        guard !shown.isEmpty else { return [] }
        let channels = ["features", "classifier", "gradients"]
        let data = shown.map { p in
            [Gnuplot.quoted(label(p))]
                + channels.map { c in
                    (p.bytesSentByChannel[c] ?? 0) > 0 ? format(p.bytesSentByChannel[c]! / 1e6, 3) : "?"
                }
        }
        let columns = channels.enumerated().map { i, name in
            "'bytes.dat' using \(i + 2)\(i == 0 ? ":xtic(1)" : "") title '\(name)'"
        }
        try charts.render(
            "bytes", data: data,
            script: """
                set title 'Bytes each rank sends per step, by channel, \(k) ranks (measured; log scale)'
                set style data histograms
                set style histogram clustered gap 1
                set style fill solid 0.85 border -1
                set boxwidth 0.7
                set ylabel 'MB per rank per step'
                set logscale y
                set yrange [0.1:*]
                set xtics rotate by -30 left
                set bmargin 7
                plot \(columns.joined(separator: ", "))
                """, size: (1000, 560))
        var md = [
            "## Bytes on the wire per codec", "", "![bytes](charts/bytes.png)", "",
            "| configuration | bytes/rank/step | fp32 equivalent | gradient compression |", "|---|---|---|---|",
        ]
        for p in shown {
            md.append(
                "| \(label(p)) | \(formatBytes(p.bytesSentPerRank)) | \(formatBytes(p.fp32BytesPerRank)) | \(format(p.gradientCompressionRatio))× |"
            )
        }
        md.append("")
        md.append(
            "Counted in the collectives themselves (Note [bytes sent]: each payload once per rank it reaches, a "
                + "ring allreduce's traffic); compressed frames and their control messages as sent. Only the conv "
                + "gradients are compressed: features and FC activations travel as fp32.")
        md.append("")
        return md
    }

    private func linkSection(_ charts: Gnuplot) throws -> [String] {
        let k = results.points.map(\.ranks).max() ?? 1
        let networked = results.points.filter { $0.ranks == k && !$0.link.isLocal }
        guard !networked.isEmpty else { return [] }
        let series = Dictionary(grouping: networked, by: label)
        var data: [[String]] = []
        var plots: [String] = []
        for (index, name) in series.keys.sorted().enumerated() {
            for p in series[name]!.sorted(by: { $0.link.bitsPerSecond! < $1.link.bitsPerSecond! }) {
                data.append([format(p.link.bitsPerSecond! / 1e6, 0), format(p.medianStepSeconds, 4)])
            }
            data.append([])
            data.append([])
            plots.append("'link.dat' index \(index) using 1:2 with linespoints lw 2 title \(Gnuplot.quoted(name))")
        }
        try charts.render(
            "link", data: data,
            script: """
                set title 'Time per step against link rate, \(k) ranks'
                set xlabel 'link rate (Mbit/s, each direction)'
                set ylabel 'seconds per step (median)'
                set logscale x 2
                set xtics (\(Set(networked.map { format($0.link.bitsPerSecond! / 1e6, 0) }).sorted { Double($0)! < Double($1)! }.joined(separator: ", ")))
                set xrange [\(format((networked.map { $0.link.bitsPerSecond! }.min()! / 1e6) * 0.8, 0)):\(format((networked.map { $0.link.bitsPerSecond! }.max()! / 1e6) * 1.25, 0))]
                set yrange [0:*]
                plot \(plots.joined(separator: ", \\\n     "))
                """)
        return ["## Time per step against link rate", "", "![link](charts/link.png)", ""]
    }

    private func modelSection(_ charts: Gnuplot) throws -> [String] {
        var rows: [(ScalingPoint, CostModel.Prediction)] = []
        for p in results.points { if let prediction = predicted(p) { rows.append((p, prediction)) } }
        guard !rows.isEmpty else {
            return ["## Cost model", "", "No calibration: run `alexnet-dist bench scaling` (it calibrates).", ""]
        }
        let data = rows.map { [format($0.0.medianStepSeconds, 4), format($0.1.stepSeconds, 4)] }
        let top = (rows.map { max($0.0.medianStepSeconds, $0.1.stepSeconds) }.max() ?? 1) * 1.1
        try charts.render(
            "model", data: data,
            script: """
                set title 'Cost model against measurement (every measured point)'
                set xlabel 'measured seconds per step'
                set ylabel 'predicted seconds per step'
                set xrange [0:\(top)]
                set yrange [0:\(top)]
                set key left top inside
                plot x with lines dt 2 lc rgb '#888888' title 'predicted = measured', \\
                     x * 1.2 with lines dt 3 lc rgb '#bbbbbb' title '±20%', x * 0.8 with lines dt 3 lc rgb '#bbbbbb' notitle, \\
                     'model.dat' using 1:2 with points pt 7 ps 1.3 title 'points'
                """, size: (760, 640))
        let errors = rows.map { ($0.1.stepSeconds - $0.0.medianStepSeconds) / $0.0.medianStepSeconds }
        let worst = errors.map(abs).max() ?? 0
        var md = [
            "## Cost model against measurement", "",
            "![model](charts/model.png)", "",
            "Compute: the one-rank point's conv forward, conv backward, FC (with `other`) and update, slowed by "
                + "max(1, K·threads/\(calibration.cores) cores) when K ranks share the machine; a hybrid rank's FC "
                + "work is the same FLOPs (1/K of the neurons for K·B examples), its update the conv layers and 1/K "
                + "of the FC. Communication: every collective of the rank's `ParallelPlan`, with its exact sizes, "
                + "at α·steps + bytes/β with the message steps `MPICommunicator` takes (chunks, agreements, ring "
                + "steps), α and β fitted to idle allreduce timings on the same link and rank count "
                + "(`calibration.json`). While the ranks compute, the cores are busy: every message step also waits "
                + "for a core (α_load = **\(format(alphaUnderLoad * 1e3, 2)) ms** per step), and a transfer thread "
                + "competing with its own rank's compute thread moves gradients at a share of the link "
                + "(φ = **\(format(backgroundBandwidthShare, 2))**), and over TCP the kernel's network work takes "
                + "γ = **\(format(networkSecondsPerByte * 1e9, 2)) ns** of compute per byte sent; the three are fitted "
                + "to all the measured points together (the values that make the largest error smallest). Compressed gradients: "
                + "the point's measured bytes, the codec's measured encode/decode throughput. Overlap as described "
                + "in `CostModel`.", "",
            "Largest error: **\(format(worst * 100, 1))%** over \(rows.count) points.", "",
            "| link | ranks | configuration | measured s | predicted s | error | predicted exposed comm s |",
            "|---|---|---|---|---|---|---|",
        ]
        for ((p, prediction), error) in zip(rows, errors) {
            md.append(
                "| \(p.link) | \(p.ranks) | \(label(p)) | \(format(p.medianStepSeconds, 3)) | \(format(prediction.stepSeconds, 3)) | "
                    + "\(error >= 0 ? "+" : "")\(format(error * 100, 1))% | \(format(prediction.exposedCommunication, 3)) |"
            )
        }
        md.append("")
        md.append("Fitted links (α per message step, β per rank):")
        md.append("")
        md.append("| link | ranks | α | β | fitted to |")
        md.append("|---|---|---|---|---|")
        for link in Set(calibration.allreduce.map(\.link)).sorted() {
            for k in Set(calibration.allreduce.filter { $0.link == link }.map(\.ranks)).sorted() {
                guard let cost = calibration.linkCost(link: link.name, ranks: k) else { continue }
                let sizes = calibration.samples(link: link.name, ranks: k).map {
                    "\(formatBytes(4 * Double($0.elements))) in \(format($0.seconds * 1e3, 1)) ms"
                }
                md.append(
                    "| \(link) | \(k) | \(format(cost.alpha * 1e6, 0)) µs | \(format(cost.beta * 8 / 1e6, 0)) Mbit/s | \(sizes.joined(separator: "; ")) |"
                )
            }
        }
        md.append("")
        md += ringCheck()
        return md
    }

    /// `MPI_Allreduce` forced to the ring on the virtual cluster against the ring's α–β cost.
    private func ringCheck() -> [String] {
        let checks = calibration.allreduce.filter { $0.mpiAlgorithm == "ring" && $0.mpiSeconds != nil }
        guard !checks.isEmpty else { return [] }
        var md = [
            "Ring check on the virtual cluster: `MPI_Allreduce` with Open MPI's ring algorithm "
                + "(`coll_tuned_allreduce_algorithm 4`) against the ring's cost 2(K−1)·α + 2(K−1)/K·n·4 bytes/β, "
                + "with α and β fitted on 2 hosts of the same link (so the 4-host figure is a prediction):", "",
            "| link | ranks | floats | MPI ring measured | ring predicted | error | alexnet-dist allreduce |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in checks.sorted(by: { $0.link < $1.link }) {
            guard let cost = calibration.linkCost(link: c.link.name, ranks: 2), let mpi = c.mpiSeconds else { continue }
            let k = Double(c.ranks)
            let predicted = 2 * (k - 1) * cost.alpha + 2 * (k - 1) / k * 4 * Double(c.elements) / cost.beta
            md.append(
                "| \(c.link) | \(c.ranks) | \(c.elements) | \(format(mpi * 1e3, 0)) ms | \(format(predicted * 1e3, 0)) ms | "
                    + "\(format((mpi - predicted) / predicted * 100, 1))% | \(format(c.seconds * 1e3, 0)) ms |")
        }
        md.append("")
        return md
    }

    private func extrapolationSection(_ charts: Gnuplot) throws -> [String] {
        guard let reference = results.points.first(where: { $0.ranks > 1 }) ?? results.points.first,
            let model = costModel(for: reference)
        else { return [] }
        // Each node a rank of its own (no shared cores); β the shaped rate times the efficiency TCP reached here.
        let efficiencies = calibration.allreduce.filter {
            !$0.link.isLocal && $0.ranks == 2 && $0.mpiAlgorithm == "default"
        }
        .map(\.link).compactMap { link -> Double? in
            calibration.linkCost(link: link.name, ranks: 2).map { $0.beta * 8 / link.bitsPerSecond! }
        }
        let efficiency = efficiencies.isEmpty ? 0.94 : min(1, efficiencies.reduce(0, +) / Double(efficiencies.count))
        let fractions = Dictionary(grouping: results.points.filter { !$0.codec.isIdentity }, by: \.codec).mapValues {
            $0.map { 1 / $0.gradientCompressionRatio }.reduce(0, +) / Double($0.count)
        }
        let bestCodec = fractions.min { $0.value < $1.value }?.key
        var configurations: [(String, ParallelPlan.Parallelism, Codec)] = [
            ("data, none", .data, .none), ("hybrid (b), none", .hybrid, .none),
        ]
        if let codec = bestCodec {
            configurations.insert(("data, \(codec)", .data, codec), at: 1)
            configurations.append(("hybrid (b), \(codec)", .hybrid, codec))
        }
        // Two compute speeds per rank: this machine's (measured), and a K20-class GPU's (assumed), at which
        // the 2014 note's figures were taken and communication weighs far more.
        let measured = model.compute
        let cpuImagesPerSecond =
            Double(measured.batch)
            / (measured.convForward + measured.convBackward + measured.fullyConnected + measured.update)
        let gpuBatch = 128
        let gpuScale = Double(gpuBatch) / Double(measured.batch) * cpuImagesPerSecond / ScalingReport.gpuImagesPerSecond
        var gpu = model
        gpu.compute = CostModel.Compute(
            convForward: measured.convForward * gpuScale, convBackward: measured.convBackward * gpuScale,
            fullyConnected: measured.fullyConnected * gpuScale, update: measured.update * gpuScale, batch: gpuBatch,
            threads: measured.threads)
        let profiles: [(title: String, model: CostModel)] = [
            (
                "this machine's CPU, 1 thread per rank, \(measured.batch) images per rank (measured: \(format(cpuImagesPerSecond, 1)) images/s)",
                model
            ),
            (
                "a K20-class GPU per rank, \(gpuBatch) images per rank (assumed: \(format(ScalingReport.gpuImagesPerSecond, 0)) images/s, the measured profile scaled)",
                gpu
            ),
        ]
        var md = [
            "## Extrapolation to larger clusters", "",
            "The calibrated model with one rank per node (no shared cores), links at 10, 25 and 100 Gbit/s with the "
                + "efficiency TCP reached on the virtual cluster (\(format(efficiency * 100, 0))% of the rate) and "
                + "α = \(format(ScalingReport.extrapolatedAlpha * 1e6, 0)) µs per message step (an assumption: a real "
                + "network's latency cannot be measured here). Compressed gradients send the fraction measured in the "
                + "sweep. Speedup = K × step₁ / step_K (weak scaling). Two compute speeds: this machine's, measured, "
                + "where even 10 Gbit/s hides data parallelism's traffic behind backward; and a GPU's, assumed (the "
                + "2014 note's setting), where the traffic dominates. The 2014 note's speedups are set beside both.",
            "",
        ]
        var data: [[String]] = []
        var blocks: [(profile: Int, rate: Double)] = []
        for (profileIndex, profile) in profiles.enumerated() {
            let single = profile.model.predict(
                parallelism: .data, scheme: .b, codec: .none, ranks: 1, link: .init(alpha: 0, beta: 1),
                sharedCores: false
            ).stepSeconds
            md += ["Compute: \(profile.title).", ""]
            md.append("| link | ranks |" + configurations.map { " \($0.0) |" }.joined() + " 2014 note (K20 GPUs) |")
            md.append("|---|---|" + String(repeating: "---|", count: configurations.count + 1))
            for rate in ScalingReport.extrapolatedRates {
                let link = CostModel.LinkCost(alpha: ScalingReport.extrapolatedAlpha, beta: rate * efficiency / 8)
                for k in [2, 4] + ScalingReport.extrapolatedRanks {
                    let speedups = configurations.map { c -> Double in
                        let step = profile.model.predict(
                            parallelism: c.1, scheme: .b, codec: c.2, ranks: k, link: link, sharedCores: false,
                            gradientSentFraction: fractions[c.2] ?? 1
                        ).stepSeconds
                        return Double(k) * single / step
                    }
                    let note = ScalingReport.noteSpeedups.first { $0.ranks == k }.map { format($0.speedup) } ?? ""
                    md.append(
                        "| \(format(rate / 1e9, 0)) Gbit/s | \(k) |" + speedups.map { " \(format($0, 1)) |" }.joined()
                            + " \(note) |")
                    data.append(["\(k)"] + speedups.map { format($0, 3) })
                }
                data += [[], []]
                blocks.append((profileIndex, rate))
            }
            md.append("")
        }
        let note = ScalingReport.noteSpeedups.map { "\($0.ranks) \($0.speedup)" }.joined(separator: "\n")
        var lines = [
            "$note << EOD", note, "EOD",
            "set multiplot layout 1,2 title 'Model: speedup against ranks (weak scaling, one rank per node)' font ',13'",
            "set xlabel 'ranks'", "set ylabel 'speedup over one rank'", "set logscale xy 2",
            "set key inside left top font ',8'",
        ]
        for (profileIndex, name) in ["this machine’s CPU (measured)", "K20-class GPU (assumed)"].enumerated() {
            var plots = [
                "x with lines lc rgb '#cccccc' title 'linear'",
                "$note using 1:2 with points pt 5 ps 1.6 lc rgb 'black' title '2014 note, K20 GPUs'",
            ]
            for (index, block) in blocks.enumerated() where block.profile == profileIndex {
                let dash = ScalingReport.extrapolatedRates.firstIndex(of: block.rate)! + 1
                for (c, configuration) in configurations.enumerated() {
                    plots.append(
                        "'extrapolation.dat' index \(index) using 1:\(c + 2) with lines lw 2 dt \(dash) lc \(c + 1) title \(Gnuplot.quoted("\(configuration.0), \(format(block.rate / 1e9, 0)) Gbit/s"))"
                    )
                }
            }
            lines += ["set title '\(name)'", "plot " + plots.joined(separator: ", \\\n     ")]
        }
        lines.append("unset multiplot")
        try charts.render("extrapolation", data: data, script: lines.joined(separator: "\n"), size: (1400, 700))
        md.append("![extrapolation](charts/extrapolation.png)")
        md.append("")
        return md
    }

    private func tracesSection(_ directory: String) throws -> [String] {
        var md = [
            "## Timelines", "",
            "One training step on every rank, as Chrome traces (open in `chrome://tracing` or ui.perfetto.dev): "
                + "each rank is a process, each thread a track (compute; `exchange`, the hybrid feature exchange; "
                + "`buckets`, the gradient buckets; `transfer`, the compressed allreduce's collectives), every span "
                + "named after its layer, collective or codec.", "",
        ]
        for row in headline() {
            for p in [row.data, row.hybrid] {
                let name = ScalingResults.traceName(p)
                let source = results.directory + "/" + name
                guard let data = FileManager.default.contents(atPath: source) else { continue }
                try AtomicFile.write(directory + "/" + name, data: Array(data))
                md.append("- [\(label(p)), \(p.ranks) ranks, \(p.link)](\(name))")
            }
        }
        md.append("")
        return md
    }

    private func pointsSection() -> [String] {
        var md = [
            "## Every measured point", "",
            "| link | ranks | configuration | images/s (median, min–max) | efficiency | s/step | bytes/rank/step | gradient compression | date |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for p in results.points.sorted(by: { ($0.link, $0.ranks, label($0)) < ($1.link, $1.ranks, label($1)) }) {
            md.append(
                "| \(p.link) | \(p.ranks) | \(label(p)) | \(format(p.imagesPerSecond)) (\(format(p.imagesPerSecondMin))–\(format(p.imagesPerSecondMax))) | "
                    + "\(efficiency(p).map { format($0) } ?? "–") | \(format(p.medianStepSeconds, 3)) | \(formatBytes(p.bytesSentPerRank)) | "
                    + "\(format(p.gradientCompressionRatio))× | \(p.date) |")
        }
        md.append("")
        return md
    }

    private func methodsSection() -> [String] {
        [
            "## How it was measured", "",
            "- Each point: `alexnet-dist bench training` with \(results.points[0].steps) timed steps after a warm-up, "
                + "the slowest rank's time per step, median (spread: fastest and slowest step). Points on a link ran "
                + "under `cluster/vcluster mpirun` (TCP only, one rank per namespace host); `shared memory` points under "
                + "`mpirun` on this machine. The command of every point is in `results.jsonl`.",
            "- Links: HTB on both ends of every host's link, a strict-priority class for small packets; TCP "
                + "congestion control cubic. Links above ~2 Gbit/s are not faithfully emulated on 2 cores.",
            "- The cluster's hosts share this machine's cores: the data baseline's heavier traffic costs compute "
                + "too (the kernel's TCP and bridge work), as it would on real hosts, but more so here.",
            "- alexnet-dist's allreduce sums in rank order (bit-identical to the in-process simulation); its "
                + "reduce-scatter is a direct exchange (`MPI_Alltoallv`), its gather a ring.",
            "",
        ]
    }
}
