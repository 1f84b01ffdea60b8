import Compute
import Foundation

extension TrainingCurves {
    /// Line colours, one per run, in order.
    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    /// Draws `runs` into the PNG `output` (replaced atomically; gnuplot, as the reports use it): the
    /// training loss above, the test top-1 accuracy below (when a run was evaluated), one colour per run,
    /// a dashed line where a run's learning rate changed, labelled with the new rate.
    public static func plot(_ runs: [TrainingCurves], axis: Axis, output: String) throws {
        precondition(!runs.isEmpty, "TrainingCurves.plot: no runs")
        if axis == .epoch, let old = runs.first(where: { $0.stepsPerEpoch == nil }) {
            throw ReportError(
                "\(old.path): the step records carry no steps_per_epoch (written by an older alexnet-dist): plot it against --x step"
            )
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("alexnet-plot-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let chart = try Gnuplot(directory: scratch)
        func value(_ x: Double) -> String { x.isFinite ? String(format: "%.6g", x) : "?" }
        var rows: [[String]] = []
        // Blocks 2i (windows) and 2i + 1 (tests) of run i, each at least one row: gnuplot's `index` counts
        // the blocks that hold rows, so an empty one would shift the others.
        for run in runs {
            let windows = run.windows.map { [value(run.position($0.step, on: axis)), value($0.loss)] }
            let tests = run.tests.map { [value(run.position($0.step, on: axis)), value($0.top1Accuracy * 100)] }
            rows += (windows.isEmpty ? [["?", "?"]] : windows) + [[], []]
            rows += (tests.isEmpty ? [["?", "?"]] : tests) + [[], []]
        }
        var marks: [String] = []
        for (i, run) in runs.enumerated() {
            for change in run.learningRateChanges {
                let x = value(run.position(change.step, on: axis))
                marks.append(
                    "set arrow from \(x), graph 0 to \(x), graph 1 nohead dashtype 2 lc rgb '\(colour(i))'")
                // The factor, not the rate: the metrics' rate is the base rate per rank's batch, which a reader
                // of the recipe (0.01 at batch 128) would not recognise, while ÷10 reads the same in both.
                let label =
                    change.factor < 1
                    ? String(format: "lr ÷%.3g", 1 / change.factor) : String(format: "lr ×%.3g", change.factor)
                marks.append(
                    "set label \(Gnuplot.quoted(label)) at \(x), graph 0.97 offset 0.4,0 left font ',9' tc rgb '\(colour(i))'"
                )
            }
        }
        func terms(_ block: Int, _ style: String, titled: Bool) -> String {
            runs.indices.compactMap { i -> String? in
                if block == 1 && runs[i].tests.isEmpty { return nil }
                let title = titled ? "title \(Gnuplot.quoted(runs[i].name))" : "notitle"
                return "'curves.dat' index \(2 * i + block) using 1:2 with \(style) lw 2 lc rgb '\(colour(i))' \(title)"
            }.joined(separator: ", ")
        }
        let evaluated = runs.contains { !$0.tests.isEmpty }
        // Both panels on one x range, from 0 to the last step or evaluation drawn.
        let last =
            runs.flatMap { run in (run.windows.map(\.step) + run.tests.map(\.step)).map { run.position($0, on: axis) } }
            .max() ?? 1
        let xLabel = axis == .step ? "step" : "epoch"
        var script = """
            set multiplot layout \(evaluated ? 2 : 1),1
            set xrange [0:\(value(last))]
            set lmargin 11
            \(marks.joined(separator: "\n"))
            set ylabel 'training loss (mean over each logged window)'
            set xlabel '\(evaluated ? "" : xLabel)'
            plot \(terms(0, "lines", titled: true))

            """
        if evaluated {
            script += """
                unset label
                set ylabel 'test top-1 accuracy (%)'
                set xlabel '\(xLabel)'
                plot \(terms(1, "linespoints pt 7 ps 0.6", titled: true))

                """
        }
        script += "unset multiplot"
        let png = try chart.render("curves", data: rows, script: script, size: (900, evaluated ? 760 : 440))
        guard let bytes = FileManager.default.contents(atPath: "\(scratch)/\(png)") else {
            throw ReportError("gnuplot wrote no picture in \(scratch)")
        }
        try AtomicFile.write(output, data: [UInt8](bytes))
    }

    private static func colour(_ i: Int) -> String { colours[i % colours.count] }
}
