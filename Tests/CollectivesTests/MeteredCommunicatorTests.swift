import Testing

@testable import Collectives

@Suite struct MeteredCommunicatorTests {
    /// Each collective on 3 ranks with uneven segments: the results are the wrapped communicator's, and
    /// every rank counts what Note [bytes sent] says, on its channel, in its own split communicators too.
    @Test func countsWhatEachRankSendsPerCollective() throws {
        let k = 3
        let figures = try InProcessCommunicator.run(size: k) { base in
            let meter = TrafficMeter()
            let comm = MeteredCommunicator(wrapping: base, meter: meter, channel: "main")
            let r = comm.rank
            var expected = 0
            // allReduce of 10 elements: segments 4, 3, 3.
            var buffer = contribution(rank: r, count: 10)
            try buffer.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
            #expect(buffer == rankOrderSum(size: k, count: 10))
            let own = [4, 3, 3][r]
            expected += 4 * ((10 - own) + own * (k - 1))
            // reduceScatter: the other ranks' segments.
            let counts = [2, 5, 1]
            var output = [Float](repeating: 0, count: counts[r])
            try contribution(rank: r, count: 8).withUnsafeBufferPointer { input in
                try output.withUnsafeMutableBufferPointer { try comm.reduceScatter(input, counts: counts, into: $0) }
            }
            expected += 4 * (8 - counts[r])
            // allGather: this rank's segment to each other rank.
            var gathered = [Float](repeating: 0, count: 8)
            try [Float](repeating: Float(r), count: counts[r]).withUnsafeBufferPointer { input in
                try gathered.withUnsafeMutableBufferPointer { try comm.allGather(input, counts: counts, into: $0) }
            }
            #expect(gathered == [0, 0, 1, 1, 1, 1, 1, 2])
            expected += 4 * counts[r] * (k - 1)
            // broadcast from rank 1: only the root sends.
            var shared = [Float](repeating: Float(r), count: 6)
            try shared.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: 1) }
            #expect(shared == [Float](repeating: 1, count: 6))
            if r == 1 { expected += 4 * 6 * (k - 1) }
            // reduce to rank 2: every other rank sends its buffer.
            var partial = [Float](repeating: 1, count: 5)
            try partial.withUnsafeMutableBufferPointer { try comm.reduce($0, root: 2) }
            if r != 2 { expected += 4 * 5 }
            // allToAll: what is addressed to the others.
            let sendCounts = [1, 2, 3]
            var received = [Float](repeating: 0, count: 3 * sendCounts[r])
            try [Float](repeating: 0, count: 6).withUnsafeBufferPointer { input in
                try received.withUnsafeMutableBufferPointer {
                    try comm.allToAll(
                        input, sendCounts: sendCounts, into: $0,
                        receiveCounts: Array(repeating: sendCounts[r], count: k))
                }
            }
            expected += 4 * (6 - sendCounts[r])
            // Byte messages count as encoded, on a split communicator too.
            let child = try comm.split(color: 0, key: r)
            _ = try child.exchangeBytes((0..<k).map { [UInt8](repeating: 7, count: 10 * ($0 + 1)) }, collective: "t")
            let encoded = (0..<k).reduce(0) { $0 + ($1 == r ? 0 : 10 * ($1 + 1)) } + 3 * (k - 1)
            let echoed = try child.allGatherBytes([1, 2, 3], collective: "t")
            #expect(echoed == Array(repeating: [1, 2, 3], count: k))
            try comm.barrier()
            // Float collectives taken part in: the allReduce counts 2 (its reduce-scatter and all-gather), each
            // other float collective above 1, the broadcast's and reduce's receivers and senders alike.
            return (meter.snapshot["main"]!, TrafficMeter.Counts(fp32: expected, encoded: encoded, collectives: 7))
        }
        for (r, (measured, expected)) in figures.enumerated() {
            #expect(measured == expected, "rank \(r)")
        }
    }

    @Test func differenceSubtractsChannelByChannel() {
        let before = ["a": TrafficMeter.Counts(fp32: 4, encoded: 1)]
        let after = ["a": TrafficMeter.Counts(fp32: 10, encoded: 3), "b": TrafficMeter.Counts(fp32: 8)]
        #expect(
            TrafficMeter.difference(after, before) == [
                "a": TrafficMeter.Counts(fp32: 6, encoded: 2), "b": TrafficMeter.Counts(fp32: 8),
            ])
    }
}
