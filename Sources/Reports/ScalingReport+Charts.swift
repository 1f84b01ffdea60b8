import Foundation
import Training

/// The report's charts: each a gnuplot data file and script (`Gnuplot.render`), drawn from points the
/// sections chose and figures of the analysis.
extension ScalingReport {
    /// One panel per link (2 columns), for charts that would otherwise carry a line per link × configuration.
    private func panels(_ count: Int, title: String) -> String {
        let columns = min(2, count), rows = (count + columns - 1) / columns
        return "set multiplot layout \(rows),\(columns) title '\(title)' font ',13'"
    }

    /// Throughput (and, with `efficiency`, scaling efficiency) against ranks: a panel per link, a line per
    /// configuration, each starting at the one-rank point.
    func scalingCharts(_ multi: [ScalingPoint], efficiency: Bool, _ charts: Gnuplot) throws {
        let links = Set(multi.map(\.link)).sorted()
        let configurations = Set(multi.map(\.configuration)).sorted()
        var data: [[String]] = []
        var index = 0
        var panelsOf: [(Link, [(Int, ScalingPoint.Configuration)])] = []
        for link in links {
            var series: [(Int, ScalingPoint.Configuration)] = []
            for configuration in configurations {
                var rows = multi.filter { $0.link == link && $0.configuration == configuration }.sorted {
                    $0.ranks < $1.ranks
                }
                guard !rows.isEmpty else { continue }
                if let one = analysis.single(rows[0]) { rows.insert(one, at: 0) }
                for p in rows {
                    data.append([
                        "\(p.ranks)", format(p.imagesPerSecond, 3), analysis.efficiency(p).map { format($0, 4) } ?? "?",
                    ])
                }
                data += [[], []]
                series.append((index, configuration))
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
                let plots = series.map { (i, configuration) in
                    "'\(file).dat' index \(i) using 1:\(column) with linespoints lw 2 lc \(configurations.firstIndex(of: configuration)! + 1) title \(Gnuplot.quoted(label(configuration)))"
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
        if efficiency {
            try charts.render(
                "efficiency", data: data,
                script: script(
                    "efficiency", column: 3, title: "Scaling efficiency: throughput_K / (K × throughput_1)",
                    ylabel: "efficiency", extra: "set yrange [0:1.1]"), size: (1100, 820))
        }
    }

    private static let phaseNames = [
        "conv forward", "conv backward", "FC", "update", "communication (exposed)", "other",
    ]

    private func phaseValues(_ p: StepPhases) -> [Double] {
        [p.convForward, p.convBackward, p.fullyConnected, p.update, p.communicationExposed, p.other]
    }

    /// Stacked phases of `shown` (`k` ranks, sorted by link), a panel per link.
    func phasesChart(_ shown: [ScalingPoint], ranks k: Int, _ charts: Gnuplot) throws {
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
    }

    /// Bytes sent per step by channel, one cluster of bars per configuration of `shown` (`k` ranks).
    func bytesChart(_ shown: [ScalingPoint], ranks k: Int, _ charts: Gnuplot) throws {
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
    }

    /// Step time against link rate, a line per configuration, of the `networked` points (`k` ranks).
    func linkChart(_ networked: [ScalingPoint], ranks k: Int, _ charts: Gnuplot) throws {
        let series = Dictionary(grouping: networked, by: \.configuration)
        var data: [[String]] = []
        var plots: [String] = []
        for (index, configuration) in series.keys.sorted().enumerated() {
            for p in series[configuration]!.sorted(by: { $0.link.bitsPerSecond! < $1.link.bitsPerSecond! }) {
                data.append([format(p.link.bitsPerSecond! / 1e6, 0), format(p.medianStepSeconds, 4)])
            }
            data.append([])
            data.append([])
            plots.append(
                "'link.dat' index \(index) using 1:2 with linespoints lw 2 title \(Gnuplot.quoted(label(configuration)))"
            )
        }
        let rates = networked.map { $0.link.bitsPerSecond! }
        let tics = Set(rates.map { format($0 / 1e6, 0) }).sorted { Double($0)! < Double($1)! }
        try charts.render(
            "link", data: data,
            script: """
                set title 'Time per step against link rate, \(k) ranks'
                set xlabel 'link rate (Mbit/s, each direction)'
                set ylabel 'seconds per step (median)'
                set logscale x 2
                set xtics (\(tics.joined(separator: ", ")))
                set xrange [\(format((rates.min()! / 1e6) * 0.8, 0)):\(format((rates.max()! / 1e6) * 1.25, 0))]
                set yrange [0:*]
                plot \(plots.joined(separator: ", \\\n     "))
                """)
    }

    /// Predicted against measured step time, every point the model predicts.
    func modelChart(_ checks: [ScalingAnalysis.ModelCheck], _ charts: Gnuplot) throws {
        let data = checks.map { [format($0.point.medianStepSeconds, 4), format($0.prediction.stepSeconds, 4)] }
        let top = (checks.map { max($0.point.medianStepSeconds, $0.prediction.stepSeconds) }.max() ?? 1) * 1.1
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
    }

    /// Speedup against ranks, a panel per compute profile, a line per configuration and link rate, with the
    /// 2014 note's points.
    func extrapolationChart(_ extrapolation: Extrapolation, _ charts: Gnuplot) throws {
        var data: [[String]] = []
        for profile in extrapolation.profiles {
            for network in profile.networks {
                data += network.rows.map { row in
                    ["\(row.ranks)"] + row.speedups.map { format($0, 3) } + row.layouts.map { format($0.speedup, 3) }
                }
                data += [[], []]
            }
        }
        let note = Extrapolation.noteSpeedups.map { "\($0.ranks) \($0.speedup)" }.joined(separator: "\n")
        var lines = [
            "$note << EOD", note, "EOD",
            "set multiplot layout 1,2 title 'Model: speedup against ranks (weak scaling, one rank per node)' font ',13'",
            "set xlabel 'ranks'", "set ylabel 'speedup over one rank'", "set logscale xy 2",
            "set key inside left top font ',8'",
        ]
        var index = 0
        for profile in extrapolation.profiles {
            var plots = [
                "x with lines lc rgb '#cccccc' title 'linear'",
                "$note using 1:2 with points pt 5 ps 1.6 lc rgb 'black' title '2014 note, K20 GPUs'",
            ]
            for (dash, network) in profile.networks.enumerated() {
                for (c, configuration) in extrapolation.configurations.enumerated() {
                    let title = "\(extrapolationLabel(configuration)), \(format(network.bitsPerSecond / 1e9, 0)) Gbit/s"
                    plots.append(
                        "'extrapolation.dat' index \(index) using 1:\(c + 2) with lines lw 2 dt \(dash + 1) lc \(c + 1) title \(Gnuplot.quoted(title))"
                    )
                }
                let fixed = extrapolation.configurations.count
                for (c, codec) in extrapolation.layoutCodecs.enumerated() {
                    let title = "2-D best, \(codec), \(format(network.bitsPerSecond / 1e9, 0)) Gbit/s"
                    plots.append(
                        "'extrapolation.dat' index \(index) using 1:\(fixed + c + 2) with lines lw 3 dt \(dash + 1) lc \(fixed + c + 1) title \(Gnuplot.quoted(title))"
                    )
                }
                index += 1
            }
            let name = profile.hardware == .thisMachine ? "this machine’s CPU (measured)" : "K20-class GPU (assumed)"
            lines += ["set title '\(name)'", "plot " + plots.joined(separator: ", \\\n     ")]
        }
        lines.append("unset multiplot")
        try charts.render("extrapolation", data: data, script: lines.joined(separator: "\n"), size: (1400, 700))
    }
}
