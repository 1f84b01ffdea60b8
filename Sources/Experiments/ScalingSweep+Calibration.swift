import Benchmarks
import Collectives
import Foundation
import Reports

extension ScalingSweep {
    /// Allreduce sizes of the link calibration (floats): 1 KB, all latency (a message step's α: β would
    /// not show before some MB, and the shaper's 64 KB burst passes sizes near it faster than the rate), and
    /// 4, 32 and 128 MB, the range of the gradient buckets (β).
    public static let calibrationSizes = [1 << 8, 1 << 20, 1 << 23, 1 << 25]

    /// Measures what the cost model needs besides the training points, for every link and rank count of
    /// the sweep not yet calibrated (all with `force`): allreduce timings (alexnet-dist's and, on the
    /// virtual cluster, `MPI_Allreduce` forced to the ring algorithm), and the codecs' throughput.
    public func calibrate(into results: ScalingResults, tools: Tools, force: Bool, log: (String) -> Void) throws {
        var calibration = try Calibration.load(results.calibrationPath)
        var clusterUp = false
        defer { if clusterUp { _ = try? Subprocess.run([tools.vcluster, "down"], log: log) } }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let scratch = results.directory + "/.calibration-\(ProcessInfo.processInfo.processIdentifier).json"
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        func allreduce(_ link: Link, ranks k: Int, ring: Bool) throws {
            let algorithm = ring ? "ring" : "default"
            let dilation = dilation(ranks: k, link: link)
            if !force,
                calibration.allreduce.contains(where: {
                    $0.link == link && $0.ranks == k && $0.mpiAlgorithm == algorithm && ($0.dilation ?? 1) == dilation
                })
            {
                return
            }
            let sizes = (ring ? [1 << 24] : ScalingSweep.calibrationSizes).map(String.init).joined(separator: ",")
            let bench = [
                tools.executable, "bench", "allreduce", "--sizes", sizes, "--codecs", "none", "--warmup", "1",
                "--repetitions", "3", "--json", scratch,
            ]
            let ringArguments =
                ring
                ? ["--mca", "coll_tuned_use_dynamic_rules", "1", "--mca", "coll_tuned_allreduce_algorithm", "4"] : []
            if !link.isLocal {
                try Subprocess.run(
                    [tools.vcluster, "up", "--hosts", "\(k)", "--rate", link.name, "--dilate", formatFactor(dilation)],
                    log: log)
                clusterUp = true
            }
            let command = tools.mpirun(ranks: k, link: link, ringArguments) + bench
            let dilated = dilation == 1 ? "" : ", dilated ×\(formatFactor(dilation))"
            log(
                "calibration: allreduce on \(link), \(k) ranks\(dilated), MPI \(algorithm): \(command.joined(separator: " "))"
            )
            try Subprocess.run(command, log: log)
            guard let data = FileManager.default.contents(atPath: scratch) else {
                throw ReportError("calibration: bench allreduce wrote no \(scratch)")
            }
            for r in try decoder.decode([AllReduceBenchmarkResult].self, from: data) {
                calibration.allreduce.append(
                    Calibration.AllReduceSample(
                        result: r, link: link, ranks: k, mpiAlgorithm: algorithm, dilation: dilation))
                log(
                    String(
                        format: "    %d floats: %.1f ms (MPI_Allreduce %.1f ms)", r.elements, r.medianSeconds * 1e3,
                        (r.baselineMedianSeconds ?? .nan) * 1e3))
            }
            try calibration.save(results.calibrationPath)
        }

        for link in links {
            for k in ranks where k > 1 {
                try allreduce(link, ranks: k, ring: false)
                if !link.isLocal && k == ranks.max() { try allreduce(link, ranks: k, ring: true) }
            }
        }
        // Under their canonical names ("topk" is "topk:0.01"), as the training points record them.
        let codecs = Set(configurations.map(\.codec)).subtracting([.none]).sorted { $0.description < $1.description }
        let missing = codecs.filter { force || calibration.codecs[$0] == nil }
        if !missing.isEmpty {
            let command = [
                tools.executable, "bench", "allreduce", "--simulate", "2", "--sizes",
                "\(1 << 22)", "--codecs", missing.map(\.description).joined(separator: ","), "--warmup", "1",
                "--repetitions", "3",
                "--json", scratch,
            ]
            log("calibration: codec throughput: \(command.joined(separator: " "))")
            try Subprocess.run(command, log: log)
            guard let data = FileManager.default.contents(atPath: scratch) else {
                throw ReportError("calibration: bench allreduce wrote no \(scratch)")
            }
            for r in try decoder.decode([AllReduceBenchmarkResult].self, from: data) {
                guard let cost = CostModel.CodecCost(result: r) else { continue }
                calibration.codecs[r.codec] = cost
            }
            try calibration.save(results.calibrationPath)
        }
    }
}
