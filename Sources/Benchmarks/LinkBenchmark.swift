import Collectives
import Foundation
import Timing

/// Figures of `bench links`: the allreduce of two ranks on one node and of two ranks on different nodes, at
/// several sizes, from which the planner fits each link's α and β (Note [two-level links]).
public struct LinkBenchmarkResult: Codable, Sendable {
    public enum Level: String, Codable, Sendable {
        /// Two ranks of one node (shared memory).
        case intraNode = "intra-node"
        /// Two ranks on different nodes (the network).
        case interNode = "inter-node"
    }

    /// One size on one level: the median of the repetitions.
    public struct Sample: Codable, Sendable {
        public var level: Level
        /// The two world ranks measured.
        public var ranks: [Int]
        public var elements: Int
        /// Bytes each of the two sent (2·(2−1)/2 of the fp32 buffer).
        public var bytesSentPerRank: Double
        public var seconds: Double
    }

    public var worldSize: Int
    /// Nodes, and the ranks on rank 0's node (P).
    public var nodes: Int
    public var ranksPerNode: Int
    public var samples: [Sample]
}

/// Measures `bench links` on every rank of `world` (a collective): the ranks find their nodes (host name
/// and network namespace, so the virtual cluster's hosts count as nodes), then the first two ranks of one
/// node, and rank 0 with the first rank of another node, each time their own allreduce (the trainer's) at
/// `sizes` floats, `repetitions` times after one warm-up, while the other ranks wait.
public func benchmarkLinks(world: Communicator, sizes: [Int], repetitions: Int) throws -> LinkBenchmarkResult {
    precondition(!sizes.isEmpty && repetitions >= 1, "benchmarkLinks: sizes and repetitions must be given")
    let names = try world.allGatherBytes(Array(nodeIdentity.utf8), collective: "bench links: nodes").map {
        String(decoding: $0, as: UTF8.self)
    }
    let nodeOf = names.map { name in names.firstIndex(of: name)! }
    let distinctNodes = Set(nodeOf).count
    let ranksPerNode = nodeOf.filter { $0 == nodeOf[0] }.count
    var pairs: [(LinkBenchmarkResult.Level, [Int])] = []
    if let node = Set(nodeOf).sorted().first(where: { n in nodeOf.filter { $0 == n }.count >= 2 }) {
        pairs.append((.intraNode, Array(nodeOf.indices.filter { nodeOf[$0] == node }.prefix(2))))
    }
    if let other = nodeOf.indices.first(where: { nodeOf[$0] != nodeOf[0] }) { pairs.append((.interNode, [0, other])) }

    var samples: [LinkBenchmarkResult.Sample] = []
    for (level, pair) in pairs {
        let member = pair.contains(world.rank)
        let comm = try world.split(color: member ? 1 : 0, key: world.rank)
        if member {
            for n in sizes {
                var buffer = [Float](repeating: 1, count: n)
                var times: [Double] = []
                for repetition in 0...repetitions {
                    try comm.barrier()
                    let start = monotonicSeconds()
                    try buffer.withUnsafeMutableBufferPointer { try comm.allReduce($0, collective: "bench links") }
                    if repetition > 0 { times.append(monotonicSeconds() - start) }
                }
                // Both ranks' medians; the slower is the pair's.
                let seconds = try comm.allGatherDoubles([median(times)], collective: "bench links: times").map {
                    $0[0]
                }.max()!
                samples.append(
                    .init(level: level, ranks: pair, elements: n, bytesSentPerRank: 4 * Double(n), seconds: seconds))
            }
        }
        try world.barrier()
    }
    // Rank 0 is in the inter-node pair but maybe not the intra-node one: gather every rank's samples.
    let encoder = JSONEncoder()
    let gathered = try world.allGatherBytes(Array(try encoder.encode(samples)), collective: "bench links: samples")
    var all: [LinkBenchmarkResult.Sample] = []
    for (level, pair) in pairs {
        let data = Data(gathered[pair[0]])
        all += try JSONDecoder().decode([LinkBenchmarkResult.Sample].self, from: data).filter { $0.level == level }
    }
    return LinkBenchmarkResult(worldSize: world.size, nodes: distinctNodes, ranksPerNode: ranksPerNode, samples: all)
}

/// This process's node: the host name and the network namespace (the virtual cluster's hosts share a host
/// name but not a namespace).
var nodeIdentity: String {
    let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? ""
    return ProcessInfo.processInfo.hostName + " " + namespace
}
