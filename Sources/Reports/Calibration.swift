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
        /// The virtual cluster's time dilation (nil: none); the times above are the measured ones divided by it.
        public var dilation: Double?
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

    /// The default-algorithm samples of `link` at `ranks` and time dilation `dilation`.
    public func samples(link: String, ranks: Int, dilation: Double = 1) -> [AllReduceSample] {
        allreduce.filter {
            $0.link.name == link && $0.ranks == ranks && $0.mpiAlgorithm == "default" && ($0.dilation ?? 1) == dilation
        }
    }

    /// α and β fitted to alexnet-dist's allreduce on `link` at `ranks` (and `dilation`, in emulated time).
    public func linkCost(link: String, ranks: Int, dilation: Double = 1) -> CostModel.LinkCost? {
        let s = samples(link: link, ranks: ranks, dilation: dilation)
        return CostModel.fitLink(
            elements: s.map(\.elements), bytesSent: s.map(\.bytesSentPerRank), seconds: s.map(\.seconds), ranks: ranks)
    }
}

extension Calibration.AllReduceSample {
    /// One size of `alexnet-dist bench allreduce` (codec none) on `link` at `ranks`, with Open MPI told to use
    /// `mpiAlgorithm` ("default" or "ring").
    public init(
        result r: AllReduceBenchmarkResult, link: Link, ranks: Int, mpiAlgorithm: String, dilation: Double = 1
    ) {
        self.init(
            link: link, ranks: ranks, elements: r.elements, bytesSentPerRank: r.bytesSentPerRank,
            seconds: r.medianSeconds / dilation, mpiSeconds: r.baselineMedianSeconds.map { $0 / dilation },
            mpiAlgorithm: mpiAlgorithm, dilation: dilation == 1 ? nil : dilation)
    }
}

extension CostModel.CodecCost {
    /// A codec's throughput as `alexnet-dist bench allreduce` measured it; nil if the result has none (codec
    /// none).
    public init?(result r: AllReduceBenchmarkResult) {
        guard let encode = r.encodeGBps, let decode = r.decodeGBps else { return nil }
        self.init(encodeBytesPerSecond: encode * 1e9, decodeBytesPerSecond: decode * 1e9)
    }
}
