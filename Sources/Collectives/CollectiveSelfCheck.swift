/// A fixed battery of collectives on deterministic data, reduced to one digest line per check and rank.
/// Running it in-process (`--simulate K`) and under `mpirun -n K` and comparing the lines checks that the
/// two implementations give bit-identical results (Note [deterministic reduction]).
public enum CollectiveSelfCheck {
    /// Rank r's element i: a value whose float sum depends on the summation order.
    public static func value(rank: Int, index: Int) -> Float {
        Float(rank + 1) * 0.1 + Float(index % 13) * 1.37e-3 + Float(index) * 3.1e-7
    }

    /// Lines `rank R <check>: <digest>` in a fixed order.
    /// - Parameter overlap: let the compressed allreduce run its collectives on a transfer thread.
    public static func run(_ comm: Communicator, overlap: Bool = true) throws -> [String] {
        let (r, k) = (comm.rank, comm.size)
        var lines: [String] = []
        func record(_ name: String, _ values: [Float]) {
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for v in values { hash = (hash ^ UInt64(v.bitPattern)) &* 0x0000_0100_0000_01B3 }
            lines.append("rank \(r) \(name) n=\(values.count): \(String(hash, radix: 16))")
        }
        for count in [0, 1, 7, 1000, 1003, 100_003, 1_000_003] {  // the last takes MPI's ring gather
            var data = (0..<count).map { value(rank: r, index: $0) }
            try data.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            record("allReduce", data)
        }
        let counts = (0..<k).map { ($0 * 5 + 3) % 7 }
        let input = (0..<counts.reduce(0, +)).map { value(rank: r, index: $0) }
        var shard = [Float](repeating: 0, count: counts[r])
        try input.withUnsafeBufferPointer { i in
            try shard.withUnsafeMutableBufferPointer { try comm.reduceScatter(i, counts: counts, into: $0) }
        }
        record("reduceScatter", shard)
        var gathered = [Float](repeating: 0, count: counts.reduce(0, +))
        try shard.withUnsafeBufferPointer { s in
            try gathered.withUnsafeMutableBufferPointer { try comm.allGather(s, counts: counts, into: $0) }
        }
        record("allGather", gathered)
        // Large enough for the ring gather, with uneven segments; then unbalanced ones (an empty one), which
        // MPI gathers its own way.
        for largeCounts in [(0..<k).map { 300_001 + 17 * $0 }, (0..<k).map { $0 == 1 ? 0 : 300_001 + 17 * $0 }] {
            let mine = (0..<largeCounts[r]).map { value(rank: r, index: $0) }
            var largeGathered = [Float](repeating: 0, count: largeCounts.reduce(0, +))
            try mine.withUnsafeBufferPointer { m in
                try largeGathered.withUnsafeMutableBufferPointer {
                    try comm.allGather(m, counts: largeCounts, into: $0)
                }
            }
            record("allGather.large", largeGathered)
        }
        var b = (0..<9).map { value(rank: r, index: $0) }
        try b.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: k - 1) }
        record("broadcast", b)
        var s = (0..<9).map { value(rank: r, index: $0) }
        try s.withUnsafeMutableBufferPointer { try comm.reduce($0, root: 0) }
        record("reduce", s)
        let sendCounts = (0..<k).map { (r + $0) % 3 }
        let sent = (0..<k).flatMap { q in Array(repeating: Float(100 * r + q), count: sendCounts[q]) }
        let receiveCounts = (0..<k).map { ($0 + r) % 3 }
        var received = [Float](repeating: 0, count: receiveCounts.reduce(0, +))
        try sent.withUnsafeBufferPointer { i in
            try received.withUnsafeMutableBufferPointer {
                try comm.allToAll(i, sendCounts: sendCounts, into: $0, receiveCounts: receiveCounts)
            }
        }
        record("allToAll", received)
        let sub = try comm.split(color: r % 2, key: -r)
        var x: [Float] = [Float(r) + 0.25]
        try x.withUnsafeMutableBufferPointer { try sub.allReduce($0) }
        record("split.allReduce", x)
        // The compressed allreduce, in small chunks so that the pipeline has several stages in flight.
        let reducer = CompressedAllReduce(communicator: comm, chunkElements: 300, overlap: overlap)
        for codec in ["none", "zstd", "bf16", "bf16+zstd", "fp16+zstd", "topk:0.05"] {
            var data = (0..<1003).map { value(rank: r, index: $0) * (($0 % 3 == 0) ? -1 : 1) }
            for step in 0..<2 {
                try data.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: codec, tensor: "t") }
                record("compressedAllReduce(\(codec)) step \(step)", data)
            }
        }
        try comm.barrier()
        return lines
    }
}
