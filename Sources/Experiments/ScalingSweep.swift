import Benchmarks
import Collectives
import Foundation
import Reports
import Training

/// A sweep of real training runs over ranks × configuration × link, each point a separate
/// `alexnet-dist bench training` process started by `mpirun` (on this machine's shared memory, or across
/// the virtual cluster's hosts through `cluster/vcluster mpirun`), recorded in a `ScalingResults` folder.
public struct ScalingSweep {
    /// What a point runs: `ScalingPoint.Configuration`, parsed from "data:none", "hybrid-b:bf16",
    /// "hybrid-b-g2:none".
    public typealias Configuration = ScalingPoint.Configuration

    /// Programs the sweep starts.
    public struct Tools: Sendable {
        /// The alexnet-dist executable every point runs.
        public var executable: String
        public var mpirun = "mpirun"
        /// cluster/vcluster, for points on network links.
        public var vcluster: String

        public init(executable: String, vcluster: String) {
            self.executable = executable
            self.vcluster = vcluster
        }

        /// The launcher of `ranks` ranks on `link`: `mpirun` on this machine's shared memory (oversubscribed,
        /// yielding when idle), or the virtual cluster's `mpirun` (which must be up in that shape); `arguments`
        /// go to mpirun before the program.
        public func mpirun(ranks: Int, link: Link, _ arguments: [String] = []) -> [String] {
            guard link.isLocal else { return [vcluster, "mpirun", "-n", "\(ranks)"] + arguments }
            var command = [mpirun, "-n", "\(ranks)", "--oversubscribe", "--mca", "mpi_yield_when_idle", "1"]
            if getuid() == 0 { command.append("--allow-run-as-root") }
            return command + arguments
        }
    }

    /// One run to make.
    public struct Planned: Sendable {
        public var configuration: Configuration
        public var ranks: Int
        public var link: Link
        /// The virtual cluster's time dilation (1: none).
        public var dilation: Double = 1
    }

    /// Note [time dilation]: K virtual hosts of one rank each share this machine's C cores, so each computes
    /// K·threads/C times slower than a real host with its own cores would. Slowing every link by the same
    /// factor D (rate ÷ D, delay × D: `cluster/vcluster up --dilate D`) keeps the ratio of compute to
    /// communication of the real cluster, and the run is that cluster's in slow motion (DieCast, Gupta et
    /// al., NSDI 2008): its times divided by D are the emulated cluster's. A point records D; its step times
    /// and phases are stored divided by it, its allreduce calibration likewise, and the cost model predicts it
    /// as K hosts with their own cores at the undilated link. What dilation cannot slow: the kernel's and
    /// Open MPI's fixed costs per message, and whatever runs beside (both show up as extra latency).
    ///
    /// Time dilation on the virtual cluster: none, a factor, or `auto`: K·threads / cores when K ranks need
    /// more cores than the machine has.
    public enum Dilation: Sendable, Equatable {
        case none, auto
        case factor(Double)

        public init(parsing text: String) throws {
            switch text {
            case "none", "1": self = .none
            case "auto": self = .auto
            default:
                guard let d = Double(text), d >= 1, d <= 64 else {
                    throw ReportError("dilation '\(text)' is neither none, auto nor a factor from 1 to 64")
                }
                self = .factor(d)
            }
        }
    }

    public var variant = "owt"
    public var batchPerRank = 32
    public var threadsPerRank = 1
    public var warmup = 1
    public var steps = 3
    /// Timed steps of the compute reference before every multi-rank point (Note [compute reference]); 0: none.
    public var referenceSteps = 0
    /// How many more times a point whose conv forward drifted from its reference is measured (Note [drift rule]).
    public var retries = 2
    public var ranks = [1, 2, 4]
    public var configurations: [Configuration] = []
    public var links: [Link] = []
    public var dilation = Dilation.none
    /// The machine's cores, for `auto` dilation and the drift rule.
    public var cores = ProcessInfo.processInfo.activeProcessorCount

    public init() {}

    /// The dilation of K ranks on `link`: 1 on shared memory and for one rank.
    public func dilation(ranks k: Int, link: Link) -> Double {
        guard !link.isLocal, k > 1 else { return 1 }
        switch dilation {
        case .none: return 1
        case .factor(let d): return d
        case .auto: return max(1, Double(k * threadsPerRank) / Double(cores))
        }
    }

    /// Every point, in run order: link by link (one cluster shape at a time), ranks ascending. One rank runs
    /// once, in one process on shared memory (no link is involved), as the data configuration with no codec:
    /// throughput₁ of the scaling efficiency. A configuration with groups of G runs where G divides K and
    /// G < K (G = K is the world's hybrid, "hybrid-b").
    public var planned: [Planned] {
        var result: [Planned] = []
        for link in links {
            for k in ranks {
                if k == 1 {
                    if link.isLocal, let single = try? Configuration(parsing: "data:none") {
                        result.append(Planned(configuration: single, ranks: 1, link: link))
                    }
                    continue
                }
                for c in configurations where c.groupSize.map({ $0 < k && k % $0 == 0 }) ?? true {
                    result.append(
                        Planned(configuration: c, ranks: k, link: link, dilation: dilation(ranks: k, link: link)))
                }
            }
        }
        return result
    }

    /// The key a point of `planned` will be recorded under (to skip it when already measured).
    public func key(_ p: Planned) -> String {
        ScalingPoint.key(
            variant: variant, mode: p.configuration.mode, codec: p.configuration.codec, ranks: p.ranks,
            batchPerRank: batchPerRank, threadsPerRank: threadsPerRank, link: p.link, dilation: p.dilation)
    }

    /// The `bench training` arguments of a point.
    func benchArguments(_ p: Planned, json: String, trace: String) -> [String] {
        var arguments = [
            "bench", "training", "--variant", variant, "--batch-size", "\(batchPerRank)", "--warmup", "\(warmup)",
            "--steps", "\(steps)", "--threads", "\(threadsPerRank)", "--parallel",
            p.configuration.parallelism.rawValue, "--codec", p.configuration.codec.description, "--no-baseline",
            "--json", json,
            "--trace", trace,
        ]
        if let scheme = p.configuration.scheme { arguments += ["--scheme", scheme.rawValue] }
        if let g = p.configuration.groupSize { arguments += ["--fc-group-size", "\(g)"] }
        if p.ranks == 1 { arguments += ["--simulate", "1"] }
        return arguments
    }

    /// The command line of a point: one process for one rank, `mpirun` on shared memory, or the virtual
    /// cluster's `mpirun` on a link.
    func command(_ p: Planned, tools: Tools, json: String, trace: String) -> [String] {
        let bench = [tools.executable] + benchArguments(p, json: json, trace: trace)
        return p.ranks == 1 ? bench : tools.mpirun(ranks: p.ranks, link: p.link) + bench
    }

    /// Note [compute reference]: the cost model predicts a point from one rank's compute alone, but on a
    /// shared host that speed drifts from minute to minute (the one-rank point's own steps spread 1.04–1.34 s
    /// on 2026-12-07, and a 2-rank step once ran faster than one rank alone can), and one profile measured at
    /// the start of an hour-long sweep then mispredicts every point by the drift. So the sweep measures the
    /// reference again right before each multi-rank point: the one-rank point's command (one process, data
    /// parallelism, no codec, on the host itself, outside any virtual cluster or quota) with
    /// `referenceSteps` timed steps, recorded in the point (`ScalingPoint.reference`); the model takes its
    /// compute from there. It is a measurement of the machine at that time, not a parameter fitted to the point.
    public func referenceCommand(tools: Tools, json: String, trace: String) throws -> [String] {
        var probe = self
        probe.steps = referenceSteps
        let one = Planned(
            configuration: try Configuration(parsing: "data:none"), ranks: 1, link: try Link(parsing: "local"))
        return probe.command(one, tools: tools, json: json, trace: trace)
    }

    /// Note [drift rule]: a point's compute reference (Note [compute reference]) is timed seconds before it,
    /// yet the shared host's speed can change in between: on 2026-12-07 10 of the 23 points the model missed
    /// by more than 10% ran their conv forward more than 10% off their reference (one +60%). The conv forward
    /// is the same work in every layout, done before any transfer of the step, so such a point measured a
    /// different machine than its reference did. The sweep measures it again — a fresh reference, then the
    /// point — up to `retries` more times while its drift (`ScalingPoint.computeDrift`) exceeds
    /// `ScalingPoint.computeDriftLimit`, keeps the attempt closest to its reference, and records how many it
    /// made (`ScalingPoint.attempts`; the report counts them). The rule reads the conv forward against the
    /// reference only, never the step time or a prediction, so it cannot choose attempts that suit the model.
    ///
    /// `attempt(n)` measures attempt n (from 1); `keep` is called with each attempt better than those before
    /// it (to keep its trace).
    func measuredWithinDrift(
        _ attempt: (Int) throws -> ScalingPoint, keep: (ScalingPoint) throws -> Void, log: (String) -> Void
    ) throws -> ScalingPoint {
        var best: (point: ScalingPoint, drift: Double)?
        var made = 0
        while made <= retries {
            made += 1
            let point = try attempt(made)
            guard let reference = point.reference,
                let drift = point.computeDrift(reference: reference, machineCores: cores)
            else {
                try keep(point)
                best = (point, 0)
                break
            }
            if best.map({ abs(drift) < abs($0.drift) }) ?? true {
                try keep(point)
                best = (point, drift)
            }
            guard abs(drift) > ScalingPoint.computeDriftLimit else { break }
            log(
                String(
                    format: "    conv forward %+.1f%% off its reference (limit %.0f%%)%@", drift * 100,
                    ScalingPoint.computeDriftLimit * 100, made <= retries ? ": measuring again" : ""))
        }
        guard var point = best?.point else { throw ReportError("no attempt measured") }
        point.attempts = made > 1 ? made : nil
        return point
    }

    /// Runs every planned point not yet in `results` (all of them with `force`), recording each as it ends.
    /// Network points bring the virtual cluster up in the shape they need and take it down at the end.
    public func run(
        into results: inout ScalingResults, tools: Tools, force: Bool = false, log: (String) -> Void
    ) throws {
        let plan = planned
        try FileManager.default.createDirectory(atPath: results.tracesDirectory, withIntermediateDirectories: true)
        var clusterShape: (hosts: Int, rate: String, dilation: Double)?
        defer {
            if clusterShape != nil { _ = try? Subprocess.run([tools.vcluster, "down"], log: log) }
        }
        for (i, p) in plan.enumerated() {
            let key = key(p)
            if !force, results.point(key: key) != nil {
                log("[\(i + 1)/\(plan.count)] \(key): recorded already")
                continue
            }
            if !p.link.isLocal && p.ranks > 1
                && (clusterShape?.hosts != p.ranks || clusterShape?.rate != p.link.name
                    || clusterShape?.dilation != p.dilation)
            {
                try Subprocess.run(
                    [
                        tools.vcluster, "up", "--hosts", "\(p.ranks)", "--rate", p.link.name, "--dilate",
                        formatFactor(p.dilation),
                    ], log: log)
                clusterShape = (p.ranks, p.link.name, p.dilation)
            }
            let scratch = results.directory + "/.point-\(ProcessInfo.processInfo.processIdentifier)"
            let json = scratch + ".json", trace = scratch + ".trace.json"
            defer {
                try? FileManager.default.removeItem(atPath: json)
                try? FileManager.default.removeItem(atPath: trace)
            }
            func result(_ command: [String]) throws -> TrainingBenchmarkResult {
                try Subprocess.run(command, log: log)
                let decoder = JSONDecoder()
                decoder.keyDecodingStrategy = .convertFromSnakeCase
                guard let data = FileManager.default.contents(atPath: json) else {
                    throw ReportError("\(key): bench training wrote no \(json)")
                }
                guard let first = try decoder.decode([TrainingBenchmarkResult].self, from: data).first else {
                    throw ReportError("\(key): \(json) holds no result")
                }
                return first
            }
            let command = command(p, tools: tools, json: json, trace: trace)
            let point = try measuredWithinDrift(
                { attempt in
                    var reference: StepPhases?
                    if p.ranks > 1 && referenceSteps > 0 {
                        let probe = try referenceCommand(tools: tools, json: json, trace: trace)
                        log("    compute reference: \(probe.joined(separator: " "))")
                        reference = StepPhases.mean(try result(probe).phases)
                    }
                    let again = attempt > 1 ? " (attempt \(attempt) of \(1 + retries))" : ""
                    log("[\(i + 1)/\(plan.count)] \(key)\(again): \(command.joined(separator: " "))")
                    let started = Date()
                    var point = ScalingPoint(
                        result: try result(command), link: p.link, command: command, date: started,
                        dilation: p.dilation)
                    point.reference = reference
                    return point
                },
                keep: { point in
                    let traceDestination = results.directory + "/" + ScalingResults.traceName(point)
                    _ = try? FileManager.default.removeItem(atPath: traceDestination)
                    try FileManager.default.moveItem(atPath: trace, toPath: traceDestination)
                }, log: log)
            try results.record(point)
            log(
                String(
                    format: "    %.2f images/s (%.3f s/step), %@ sent per rank per step", point.imagesPerSecond,
                    point.medianStepSeconds, formatBytes(point.bytesSentPerRank)))
        }
    }
}
