import Benchmarks
import Collectives
import Compute
import Foundation

/// The cost model's measured inputs besides the training points (`calibration.json` of a results folder):
/// allreduce timings on every link and rank count of the sweep, the ring-algorithm check of the virtual
/// cluster, and the codecs' encode and decode throughput.
public struct Calibration: Codable, Sendable {
    /// One allreduce size on one link and rank count (`alexnet-dist bench allreduce`, codec none).
    public struct AllReduceSample: Codable, Sendable {
        public var link: Link
        public var ranks: Int
        public var elements: Int
        public var bytesSentPerRank: Double
        /// alexnet-dist's allreduce (Note [deterministic reduction]), median.
        public var seconds: Double
        /// `MPI_Allreduce` in the same repetitions, median, and the algorithm Open MPI was told to use.
        public var mpiSeconds: Double?
        public var mpiAlgorithm: String
    }

    public var allreduce: [AllReduceSample] = []
    public var codecs: [Codec: CostModel.CodecCost] = [:]
    public var cores = ProcessInfo.processInfo.activeProcessorCount
    /// The CPU the calibration ran on (`/proc/cpuinfo`'s model name).
    public var machine: String? = Calibration.cpuModel

    static var cpuModel: String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("model name") }
            .flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    public init() {}

    /// Reads `path`; an empty calibration if the file does not exist.
    public static func load(_ path: String) throws -> Calibration {
        guard let data = FileManager.default.contents(atPath: path) else { return Calibration() }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(Calibration.self, from: data)
        } catch {
            throw ReportError("\(path): not a calibration file (\(describe(error)))")
        }
    }

    public func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(path, data: Array(try encoder.encode(self)))
    }

    /// The default-algorithm samples of `link` at `ranks`.
    public func samples(link: String, ranks: Int) -> [AllReduceSample] {
        allreduce.filter { $0.link.name == link && $0.ranks == ranks && $0.mpiAlgorithm == "default" }
    }

    /// α and β fitted to alexnet-dist's allreduce on `link` at `ranks`.
    public func linkCost(link: String, ranks: Int) -> CostModel.LinkCost? {
        let s = samples(link: link, ranks: ranks)
        return CostModel.fitLink(
            elements: s.map(\.elements), bytesSent: s.map(\.bytesSentPerRank), seconds: s.map(\.seconds), ranks: ranks)
    }
}

extension ScalingSweep {
    /// Allreduce sizes of the link calibration (floats): 4, 32 and 128 MB, the range of the gradient buckets.
    public static let calibrationSizes = [1 << 20, 1 << 23, 1 << 25]

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
            if !force,
                calibration.allreduce.contains(where: {
                    $0.link == link && $0.ranks == k && $0.mpiAlgorithm == algorithm
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
                try Subprocess.run([tools.vcluster, "up", "--hosts", "\(k)", "--rate", link.name], log: log)
                clusterUp = true
            }
            let command = tools.mpirun(ranks: k, link: link, ringArguments) + bench
            log("calibration: allreduce on \(link), \(k) ranks, MPI \(algorithm): \(command.joined(separator: " "))")
            try Subprocess.run(command, log: log)
            guard let data = FileManager.default.contents(atPath: scratch) else {
                throw ReportError("calibration: bench allreduce wrote no \(scratch)")
            }
            for r in try decoder.decode([AllReduceBenchmarkResult].self, from: data) {
                calibration.allreduce.append(
                    Calibration.AllReduceSample(
                        link: link, ranks: k, elements: r.elements, bytesSentPerRank: r.bytesSentPerRank,
                        seconds: r.medianSeconds, mpiSeconds: r.baselineMedianSeconds, mpiAlgorithm: algorithm))
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
                guard let encode = r.encodeGBps, let decode = r.decodeGBps else { continue }
                calibration.codecs[r.codec] = CostModel.CodecCost(
                    encodeBytesPerSecond: encode * 1e9, decodeBytesPerSecond: decode * 1e9)
            }
            try calibration.save(results.calibrationPath)
        }
    }
}
