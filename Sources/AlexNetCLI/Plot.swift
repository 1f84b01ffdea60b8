import ArgumentParser
import Foundation
import Reports

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the training curves of one or more runs from their metrics files as a PNG.",
        discussion: """
            Reads each METRICS file (written by `alexnet-dist train --metrics`, JSON lines) and draws the \
            training loss and the test top-1 accuracy against the step (or epoch), one line per run, with a \
            dashed line where a run's learning rate changed. `train --plot` keeps such a picture next to its \
            metrics, redrawn after each evaluation. Needs gnuplot (Debian: gnuplot-nox).
            """)

    @Argument(help: "Metrics files (one per run).") var metrics: [String]
    @Option(help: "The PNG to write (replaced atomically).") var output: String
    @Option(help: "The x axis: step or epoch.") var x: TrainingCurves.Axis = .step

    func validate() throws {
        guard !metrics.isEmpty else { throw ValidationError("name at least one metrics file") }
        guard output.hasSuffix(".png") else {
            throw ValidationError("--output \(output): expected a .png file name")
        }
    }

    func run() throws {
        guard Gnuplot.isAvailable else {
            throw ValidationError("plot needs gnuplot: apt-get install gnuplot-nox")
        }
        try ensureParentDirectory(of: output)
        try TrainingCurves.plot(metrics.map { try TrainingCurves(metrics: $0) }, axis: x, output: output)
        print(output)
    }
}

extension TrainingCurves.Axis: ExpressibleByArgument {}
