import Testing

@testable import Collectives

/// Rank r's test data: element i is a value with a fractional part, so summation order matters in float.
func contribution(rank: Int, count: Int) -> [Float] {
    (0..<count).map { i in Float(rank + 1) * 0.1 + Float(i % 13) * 1.37e-3 + Float(i) * 3.1e-7 }
}

/// Σ over ranks in rank order, the contract of Note [deterministic reduction].
func rankOrderSum(size: Int, count: Int) -> [Float] {
    var sum = contribution(rank: 0, count: count)
    for r in 1..<max(size, 1) {
        let c = contribution(rank: r, count: count)
        for i in 0..<count { sum[i] += c[i] }
    }
    return sum
}

@Suite struct InProcessCommunicatorTests {
    static let sizes = Array(1...8)
    static let lengths = [0, 1, 7, 1000, 1003]

    @Test(arguments: sizes)
    func allReduceSumsInRankOrderOnEveryRank(_ size: Int) throws {
        for count in Self.lengths {
            let results = try InProcessCommunicator.run(size: size) { comm in
                var data = contribution(rank: comm.rank, count: count)
                try data.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
                return data
            }
            let expected = rankOrderSum(size: size, count: count)
            for (r, result) in results.enumerated() {
                #expect(result == expected, "size \(size), count \(count), rank \(r)")
            }
        }
    }

    @Test(arguments: sizes)
    func reduceScatterAndAllGatherWithUnevenCounts(_ size: Int) throws {
        let counts = (0..<size).map { ($0 * 5 + 3) % 7 }  // includes zeros for some sizes
        let total = counts.reduce(0, +)
        let results = try InProcessCommunicator.run(size: size) { comm in
            let input = contribution(rank: comm.rank, count: total)
            var shard = [Float](repeating: .nan, count: counts[comm.rank])
            try input.withUnsafeBufferPointer { i in
                try shard.withUnsafeMutableBufferPointer { try comm.reduceScatter(i, counts: counts, into: $0) }
            }
            var gathered = [Float](repeating: .nan, count: total)
            try shard.withUnsafeBufferPointer { s in
                try gathered.withUnsafeMutableBufferPointer { try comm.allGather(s, counts: counts, into: $0) }
            }
            return (shard, gathered)
        }
        let expected = rankOrderSum(size: size, count: total)
        var offset = 0
        for (r, (shard, gathered)) in results.enumerated() {
            #expect(shard == Array(expected[offset..<(offset + counts[r])]))
            #expect(gathered == expected)
            offset += counts[r]
        }
    }

    @Test(arguments: sizes)
    func broadcastAndReduceUseTheRoot(_ size: Int) throws {
        let root = size - 1
        let results = try InProcessCommunicator.run(size: size) { comm in
            var b = contribution(rank: comm.rank, count: 9)
            try b.withUnsafeMutableBufferPointer { try comm.broadcast($0, root: root) }
            var s = contribution(rank: comm.rank, count: 9)
            try s.withUnsafeMutableBufferPointer { try comm.reduce($0, root: root) }
            return (b, s)
        }
        for (r, (b, s)) in results.enumerated() {
            #expect(b == contribution(rank: root, count: 9))
            #expect(s == (r == root ? rankOrderSum(size: size, count: 9) : contribution(rank: r, count: 9)))
        }
    }

    @Test(arguments: sizes)
    func allToAllDeliversVariableSegmentsInSourceOrder(_ size: Int) throws {
        // Rank r sends (r + q) % 3 elements to rank q, each valued 100·r + q.
        let results = try InProcessCommunicator.run(size: size) { comm in
            let r = comm.rank
            let sendCounts = (0..<size).map { (r + $0) % 3 }
            let input = (0..<size).flatMap { q in Array(repeating: Float(100 * r + q), count: sendCounts[q]) }
            let receiveCounts = (0..<size).map { ($0 + r) % 3 }
            var output = [Float](repeating: .nan, count: receiveCounts.reduce(0, +))
            try input.withUnsafeBufferPointer { i in
                try output.withUnsafeMutableBufferPointer {
                    try comm.allToAll(i, sendCounts: sendCounts, into: $0, receiveCounts: receiveCounts)
                }
            }
            return output
        }
        for (r, output) in results.enumerated() {
            let expected = (0..<size).flatMap { q in Array(repeating: Float(100 * q + r), count: (q + r) % 3) }
            #expect(output == expected)
        }
    }

    @Test func splitFormsOrderedSubgroups() throws {
        let results = try InProcessCommunicator.run(size: 6) { comm in
            let sub = try comm.split(color: comm.rank % 2, key: -comm.rank)
            var x: [Float] = [Float(comm.rank)]
            try x.withUnsafeMutableBufferPointer { try sub.allReduce($0) }
            try comm.barrier()
            return (sub.rank, sub.size, x[0])
        }
        // Evens {0, 2, 4} ordered by key −rank: 4, 2, 0. Odds: 5, 3, 1.
        #expect(results.map { $0.0 } == [2, 2, 1, 1, 0, 0])
        #expect(results.allSatisfy { $0.1 == 3 })
        #expect(results.map { $0.2 } == [6, 9, 6, 9, 6, 9])
    }

    @Test func mismatchedLengthsAreReportedOnEveryRankWithoutHanging() throws {
        let results = try InProcessCommunicator.run(size: 4) { comm -> String in
            var data = [Float](repeating: 1, count: comm.rank == 2 ? 5 : 4)
            do {
                try data.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
                return "no error"
            } catch let error as CollectiveError {
                return error.description
            }
        }
        for (r, message) in results.enumerated() {
            #expect(
                message.hasPrefix(
                    "rank \(r), allReduce: rank 2 called reduceScatter (allReduce) [2, 1, 1, 1] while rank 0 called reduceScatter (allReduce) [1, 1, 1, 1]"
                ), "\(message)")
        }
    }

    @Test func oneRanksBadArgumentsFailEveryRankWithoutHanging() throws {
        let results = try InProcessCommunicator.run(size: 3) { comm -> String in
            let input: [Float] = [1, 2]
            var output = [Float](repeating: 0, count: comm.rank == 1 ? 3 : 6)  // rank 1's output is too small
            do {
                try input.withUnsafeBufferPointer { i in
                    try output.withUnsafeMutableBufferPointer { try comm.allGather(i, counts: [2, 2, 2], into: $0) }
                }
                return "no error"
            } catch let error as CollectiveError {
                return error.description
            }
        }
        #expect(results[1] == "rank 1, allGather: output holds 3 elements, needs 6")
        // The others learn why, from rank 1's own statement.
        #expect(results[0] == "rank 0, allGather: rank 1: output holds 3 elements, needs 6")
        #expect(results[2] == "rank 2, allGather: rank 1: output holds 3 elements, needs 6")
    }

    @Test func mismatchedCollectivesAreReported() throws {
        let results = try InProcessCommunicator.run(size: 3) { comm -> Bool in
            var data: [Float] = [1, 2]
            do {
                try data.withUnsafeMutableBufferPointer {
                    comm.rank == 1 ? try comm.broadcast($0, root: 0) : try comm.reduce($0, root: 0)
                }
                return false
            } catch is CollectiveError {
                return true
            }
        }
        #expect(results == [true, true, true])
    }

    /// A rank that stops (an error, or an early return) does not leave the others waiting: their pending and
    /// later collectives fail, naming it, in the group and in groups split from it.
    @Test func aRankThatStopsFailsTheOthersInsteadOfHangingThem() throws {
        struct Stop: Error, CustomStringConvertible { var description: String { "disk full" } }
        let outcomes = try InProcessCommunicator.run(size: 3) { comm -> String in
            let sub = try comm.split(color: 0, key: comm.rank)
            if comm.rank == 1 { return "left" }
            do {
                var values: [Float] = [1]
                try values.withUnsafeMutableBufferPointer { try sub.allReduce($0) }
                return "completed"
            } catch { return "\(error)" }
        }
        #expect(outcomes[1] == "left")
        for r in [0, 2] { #expect(outcomes[r].contains("rank 1 has finished"), "rank \(r): \(outcomes[r])") }
        #expect {
            try InProcessCommunicator.run(size: 2) { comm in
                if comm.rank == 0 { throw Stop() }
                try comm.barrier()
            }
        } throws: { "\($0)" == "rank 0: disk full" }
    }
}
