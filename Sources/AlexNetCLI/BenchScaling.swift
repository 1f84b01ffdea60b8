import ArgumentParser
import Benchmarks
import Compute
import Experiments
import Foundation
import Reports

struct BenchScaling: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scaling",
        abstract: "Sweep real training runs over ranks × parallelism × codec × link into a results folder.",
        discussion: """
            Each point is a separate `alexnet-dist bench training` run (synthetic images; real steps): one \
            process for one rank, `mpirun` on this machine's shared memory for link 'local', and for a rate \
            (500mbit, 1gbit, 2gbit) `cluster/vcluster mpirun` across that many network-namespace hosts whose \
            links are shaped to it (needs root; the cluster is brought up in each shape and taken down at the \
            end). Points already in the folder are skipped unless --force. Results: results.jsonl (raw), \
            results.csv, traces/*.json (Chrome traces of one step on every rank). `alexnet-dist report` turns \
            the folder into the report.
            """)

    @Option(help: "Results folder (created; existing points are kept).") var output = "runs/scaling"
    @Option(help: "Variant: paper, owt or small.") var variant: AlexNet.Variant = .owt
    @Option(help: "Examples per rank per step.") var batchSize = 32
    @Option(help: "Compute threads per rank (ranks share this machine's cores).") var threads = 1
    @Option(help: "Untimed steps per point.") var warmup = 1
    @Option(help: "Timed steps per point (median reported).") var steps = 5
    @Option(
        help:
            "Timed steps of one rank alone, measured right before every multi-rank point as its compute reference (0: none; the model then uses the one-rank point)."
    )
    var referenceSteps = 3
    @Option(
        help:
            "How many more times a point is measured, each after a fresh reference, while its conv forward runs more than 10% off its reference (the host's speed changed; the closest attempt is kept)."
    )
    var retries = 2
    @Option(help: "Rank counts, comma-separated (1 runs once, in one process, as throughput₁).")
    var ranks = "1,2,4,8"
    @Option(
        help:
            "MODE:CODEC list, comma-separated; MODE is data, hybrid-a, hybrid-b or hybrid-c, and hybrid-b-gG shards the FC layers within groups of G."
    )
    var configurations =
        "data:none,hybrid-b:none,hybrid-b:bf16,hybrid-b:topk,hybrid-a:none,hybrid-c:none,data:bf16,hybrid-b-g2:none,hybrid-b-g4:none"
    @Option(help: "Links, comma-separated: local (shared memory) or a rate such as 500mbit, 1gbit, 2gbit.")
    var links = "local,1gbit,2gbit"
    @Option(
        help:
            "Time dilation on network links: none, auto (K·threads/cores where K ranks need more cores than there are: each point then emulates K hosts with their own cores) or a factor; links run that much slower and the times are divided by it."
    )
    var dilate = "auto"
    @Option(help: "The virtual-cluster script (default: cluster/vcluster of this checkout).") var vcluster: String?
    @Flag(help: "Measure points already recorded again.") var force = false
    @Flag(inversion: .prefixedNo, help: "Also measure the cost model's inputs (allreduce per link, codec speed).")
    var calibrate = true

    func validate() throws {
        try validateTimedSteps(batchSize: batchSize, warmup: warmup, steps: steps)
        guard referenceSteps >= 0 else {
            throw ValidationError("--reference-steps must be 0 (none) or more, got \(referenceSteps)")
        }
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more, got \(retries)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        _ = try sweep()
    }

    func sweep() throws -> ScalingSweep {
        var sweep = ScalingSweep()
        sweep.variant = variant.rawValue
        sweep.batchPerRank = batchSize
        sweep.threadsPerRank = threads
        sweep.warmup = warmup
        sweep.steps = steps
        sweep.referenceSteps = referenceSteps
        sweep.retries = retries
        sweep.ranks = try ranks.split(separator: ",").map {
            guard let k = Int($0), (1...64).contains(k) else {
                throw ValidationError("--ranks: '\($0)' is not a rank count in 1...64")
            }
            return k
        }
        do {
            sweep.configurations = try configurations.split(separator: ",").map {
                try ScalingSweep.Configuration(parsing: String($0))
            }
            sweep.links = try links.split(separator: ",").map { try Link(parsing: String($0)) }
            sweep.dilation = try ScalingSweep.Dilation(parsing: dilate)
        } catch let error as ReportError {
            throw ValidationError(error.description)
        }
        return sweep
    }

    func run() throws {
        let sweep = try sweep()
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let script = vcluster ?? locateVCluster(from: executable)
        if sweep.links.contains(where: { !$0.isLocal }) {
            guard FileManager.default.isExecutableFile(atPath: script) else {
                throw ValidationError(
                    "links other than 'local' need cluster/vcluster: \(script) is not executable (--vcluster PATH)")
            }
            guard getuid() == 0 else {
                throw ValidationError("links other than 'local' need root (network namespaces)")
            }
        }
        var results = try ScalingResults(directory: output)
        let tools = ScalingSweep.Tools(executable: executable.path, vcluster: script)
        printError("scaling sweep: \(sweep.planned.count) points into \(output)")
        try sweep.run(into: &results, tools: tools, force: force) { printError($0) }
        if calibrate { try sweep.calibrate(into: results, tools: tools, force: force) { printError($0) } }
        printError("done: \(results.points.count) points in \(results.jsonLinesPath); alexnet-dist report \(output)")
    }
}

/// cluster/vcluster of the checkout an executable was built in (.build/<config>/alexnet-dist), else of the
/// current directory.
func locateVCluster(from executable: URL) -> String {
    var directory = executable.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("cluster/vcluster").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath + "/cluster/vcluster"
}
