import ArgumentParser
import Foundation
import Reports

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn a scaling results folder into a report: Markdown with gnuplot charts and Chrome traces.",
        discussion: """
            Reads RESULTS/results.jsonl and RESULTS/calibration.json (written by `alexnet-dist bench scaling`) \
            and writes OUTPUT/report.md, OUTPUT/charts/*.png (with each chart's data and gnuplot script), the \
            headline points' Chrome traces and copies of the raw results, so that `alexnet-dist report OUTPUT` \
            regenerates the same report. Needs gnuplot (Debian: gnuplot-nox).
            """)

    @Argument(help: "The results folder of a sweep.") var results: String
    @Option(help: "Where to write the report (default: the results folder itself).") var output: String?

    func run() throws {
        guard Gnuplot.isAvailable else {
            throw ValidationError("the report's charts need gnuplot: apt-get install gnuplot-nox")
        }
        let folder = try ScalingResults(directory: results, create: false)
        let path = try ScalingReport(results: folder).write(to: output ?? results)
        print(path)
    }
}
