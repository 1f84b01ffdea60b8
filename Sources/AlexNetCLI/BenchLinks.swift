import ArgumentParser
import Benchmarks
import Collectives
import Compute
import Foundation
import Launch
import Reports
import Training

struct BenchLinks: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "links",
        abstract: "Measure the links `plan` needs: α and β inside a node and between nodes (under mpirun or srun).",
        discussion: """
            Run it on the allocation the training will use, with at least two ranks per node and two nodes \
            (e.g. `mpirun -n 4 --map-by ppr:2:node alexnet-dist bench links --json links.json`). Two ranks of one \
            node, then rank 0 and a rank of another node, time alexnet-dist's own allreduce at each size \
            while the others wait; α and β are fitted to the medians. A few seconds.
            """)

    @Option(help: "Run K ranks as threads of this process (one node).") var simulate: Int?
    @Option(help: "Allreduce sizes in floats, comma-separated.")
    var sizes = IntegerList(argument: "4096,262144,2097152,8388608")!
    @Option(help: "Timed repetitions per size (after one warm-up).") var repetitions = 5
    @Option(help: "Write the samples as JSON to this file (atomically), for `plan --links`.") var json: String?

    func validate() throws {
        guard sizes.values.count >= 2, sizes.values.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError("--sizes needs two sizes or more, each at least 2 floats, got \(sizes.values)")
        }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
        if let json { try AtomicFile.checkWritable(json) }
    }

    func run() throws {
        let sizes = sizes.values, repetitions = repetitions
        let result = try Launch(simulate: simulate).run(threads: 1, overlap: false) { comm, _ in
            try benchmarkLinks(world: comm, sizes: sizes, repetitions: repetitions)
        }
        guard let result else { return }
        print("links: \(result.worldSize) ranks on \(result.nodes) node(s), \(result.ranksPerNode) on rank 0's node")
        for s in result.samples {
            print(
                String(
                    format: "%-10@ ranks %@  %9d floats  %9.3f ms  %8.3f GB/s", s.level.rawValue,
                    s.ranks.map(String.init).joined(separator: ","), s.elements, s.seconds * 1e3,
                    s.bytesSentPerRank / s.seconds / 1e9))
        }
        for level in [LinkBenchmarkResult.Level.intraNode, .interNode] {
            let s = result.samples.filter { $0.level == level }
            if let cost = CostModel.fitLink(
                elements: s.map(\.elements), bytesSent: s.map(\.bytesSentPerRank), seconds: s.map(\.seconds), ranks: 2)
            {
                print(
                    String(
                        format: "%@: α %.1f µs per message step, β %.3f GB/s", level.rawValue, cost.alpha * 1e6,
                        cost.beta / 1e9))
            } else {
                print("\(level.rawValue): not measured (\(level == .intraNode ? "one rank per node" : "one node"))")
            }
        }
        if let json { try writeJSON(result, to: json) }
    }
}
