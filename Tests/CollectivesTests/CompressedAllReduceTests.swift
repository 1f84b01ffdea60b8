import CCodecKernels
import Foundation
import Testing

@testable import Collectives

/// Gradient-like values of rank r: normally distributed (Box–Muller), σ = 1e-3, deterministic.
func gradientLike(rank: Int, count: Int, seed: UInt64 = 7) -> [Float] {
    var state = seed &* 0xD1B5_4A32_D192_ED03 &+ UInt64(rank) &* 0x9E37_79B9_7F4A_7C15
    func uniform() -> Double {
        state = state &+ 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
    }
    return (0..<count).map { _ in
        Float((-2 * Foundation.log(uniform())).squareRoot() * Foundation.cos(2 * Double.pi * uniform()) * 1e-3)
    }
}

/// Runs one compressed allreduce of `contribution`s on `size` in-process ranks; returns every rank's result.
func compressedAllReduce(
    size: Int, count: Int, codec: String, chunk: Int = 256, overlap: Bool = true,
    contribution: @escaping @Sendable (Int, Int) -> [Float] = { gradientLike(rank: $0, count: $1) }
) throws -> [[Float]] {
    try InProcessCommunicator.run(size: size) { comm in
        let reducer = CompressedAllReduce(communicator: comm, chunkElements: chunk, overlap: overlap)
        var data = contribution(comm.rank, count)
        try data.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: codec) }
        return data
    }
}

@Suite struct CodecTests {
    @Test func namesParseAndPrintBack() throws {
        for name in ["none", "zstd", "zstd:3", "bf16", "bf16+zstd", "fp16", "fp16+zstd:2", "topk", "topk:0.001"] {
            #expect(try Codec(parsing: name).description == name)
        }
        #expect(try Codec(parsing: "topk").values == .topk(fraction: 0.01))
        #expect(try Codec(parsing: "topk").zstdLevel == 1)
        #expect(try Codec(parsing: "none").isIdentity)
        #expect(try !Codec(parsing: "zstd").isLossy)
    }

    @Test(arguments: [
        "", "lz4", "zstd:0", "zstd:x", "zstd+bf16", "bf16+bf16", "topk:2", "topk:0", "none+zstd", "bf16:3",
    ])
    func badNamesAreRejectedWithTheGrammar(_ name: String) {
        #expect {
            try Codec(parsing: name)
        } throws: { error in
            let text = "\(error)"
            return text.contains("unknown codec '\(name)'") && text.contains("expected none, zstd")
        }
    }
}

@Suite struct FrameTests {
    let codec = FrameCodec()

    /// The vectorised byte shuffle lays out planes exactly as the plain definition, tails included.
    @Test(arguments: [2, 4], [0, 1, 15, 16, 17, 37, 1000])
    func byteShuffleMatchesItsDefinitionAndInverts(_ width: Int, _ count: Int) {
        let input = (0..<(width * count)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var shuffled = [UInt8](repeating: 0, count: input.count)
        var restored = shuffled
        codec_shuffle(input, &shuffled, count, width)
        codec_unshuffle(shuffled, &restored, count, width)
        let expected = (0..<input.count).map { j in input[(j % max(count, 1)) * width + j / max(count, 1)] }
        #expect(shuffled == expected)
        #expect(restored == input)
    }

    @Test(arguments: [FrameKind.fp32, .bf16, .fp16], [false, true])
    func denseFramesRoundTrip(_ kind: FrameKind, _ zstd: Bool) throws {
        let values = gradientLike(rank: 0, count: 1001) + [0, -0, 1e-30, 3.0e4]
        let frame = values.withUnsafeBufferPointer { codec.encode($0, as: kind, zstdLevel: zstd ? 1 : nil) }
        var decoded = [Float](repeating: .nan, count: values.count)
        try decoded.withUnsafeMutableBufferPointer { try codec.decode(frame, kind: kind, zstd: zstd, into: $0) }
        let tolerance: Float = kind == .fp32 ? 0 : kind == .bf16 ? 1.0 / 256 : 1.0 / 2048
        for (x, y) in zip(values, decoded) {
            #expect(abs(x - y) <= abs(x) * tolerance + 3.0e4 * 1e-9, "\(kind): \(x) → \(y)")
        }
        if kind == .fp32 { #expect(decoded.map(\.bitPattern) == values.map(\.bitPattern)) }
    }

    @Test func sparseFramesRoundTripAndPlaceZerosElsewhere() throws {
        let indices: [UInt32] = [0, 5, 6, 99]
        let values: [Float] = [1, -2, 3.5, 1e-20]
        let frame = indices.withUnsafeBufferPointer { i in
            values.withUnsafeBufferPointer { codec.encodeSparse(count: 100, indices: i, values: $0, zstdLevel: 1) }
        }
        var decoded = [Float](repeating: .nan, count: 100)
        try decoded.withUnsafeMutableBufferPointer { try codec.decode(frame, kind: .sparse, zstd: true, into: $0) }
        var expected = [Float](repeating: 0, count: 100)
        for (i, v) in zip(indices, values) { expected[Int(i)] = v }
        #expect(decoded == expected)
    }

    @Test func everyFlippedByteIsDetected() {
        let values = gradientLike(rank: 1, count: 300)
        let frame = values.withUnsafeBufferPointer { codec.encode($0, as: .bf16, zstdLevel: 1) }
        var output = [Float](repeating: 0, count: 300)
        for position in 0..<frame.count {
            var damaged = frame
            damaged[position] ^= 0x10
            #expect(throws: FrameError.self, "byte \(position)") {
                try output.withUnsafeMutableBufferPointer {
                    try codec.decode(damaged, kind: .bf16, zstd: true, into: $0)
                }
            }
        }
    }

    @Test func truncatedAndMismatchedFramesAreNamed() {
        let values = gradientLike(rank: 2, count: 64)
        let frame = values.withUnsafeBufferPointer { codec.encode($0, as: .fp16, zstdLevel: nil) }
        var output = [Float](repeating: 0, count: 64)
        func problem(_ bytes: [UInt8], kind: FrameKind = .fp16, zstd: Bool = false, count: Int = 64) -> String {
            var out = [Float](repeating: 0, count: count)
            do {
                try out.withUnsafeMutableBufferPointer { try codec.decode(bytes, kind: kind, zstd: zstd, into: $0) }
                return "decoded"
            } catch { return (error as? FrameError)?.problem ?? "\(error)" }
        }
        #expect(problem(Array(frame.prefix(20))).contains("shorter than the 32-byte frame header"))
        #expect(problem(Array(frame.dropLast(2))).contains("payload bytes"))
        #expect(problem(frame, kind: .bf16).contains("expected bf16"))
        #expect(problem(frame, zstd: true).contains("expected fp16+zstd"))
        #expect(problem(frame, count: 65).contains("expected 65"))
        _ = output.withUnsafeMutableBufferPointer { $0.count }
    }
}

@Suite struct CompressedAllReduceTests {
    /// Lossless codecs are the plain allreduce, bit for bit, for any K, length and chunking, with and
    /// without overlap; and every rank holds the same bits.
    @Test(arguments: 1...8)
    func noneAndZstdAreBitIdenticalToThePlainAllReduce(_ size: Int) throws {
        for count in [0, 1, 7, 255, 1003, 5000] {
            let plain = try InProcessCommunicator.run(size: size) { comm in
                var data = gradientLike(rank: comm.rank, count: count)
                try data.withUnsafeMutableBufferPointer { try comm.allReduce($0) }
                return data
            }[0].map(\.bitPattern)
            for codec in ["none", "zstd", "zstd:3"] {
                for overlap in [true, false] {
                    let results = try compressedAllReduce(size: size, count: count, codec: codec, overlap: overlap)
                    for (r, result) in results.enumerated() {
                        #expect(result.map(\.bitPattern) == plain, "K=\(size) n=\(count) \(codec) rank \(r)")
                    }
                }
            }
        }
    }

    /// Lossy codecs round each contribution once and each reduced segment once (not once per hop): the
    /// error stays within two roundings of the magnitudes involved, and all ranks agree bit for bit.
    @Test(arguments: ["bf16", "bf16+zstd", "fp16", "fp16+zstd"])
    func castCodecsStayWithinTwoRoundings(_ codec: String) throws {
        let unit: Float = codec.hasPrefix("bf16") ? 1 / 256 : 1 / 2048
        for size in [2, 3, 8] {
            let count = 2000
            let results = try compressedAllReduce(size: size, count: count, codec: codec)
            let inputs = (0..<size).map { gradientLike(rank: $0, count: count) }
            for i in 0..<count {
                let exact = inputs.reduce(Float(0)) { $0 + $1[i] }
                let magnitude = inputs.reduce(Float(0)) { $0 + abs($1[i]) }
                // fp16's scaling keeps the largest element in [2¹⁴, 2¹⁵); tiny elements meet half's
                // subnormal spacing, an absolute 2⁻²⁴ of the scaled unit (≤ 1e-10 here).
                #expect(abs(results[0][i] - exact) <= 2 * unit * magnitude + 1e-9, "\(codec) K=\(size) i=\(i)")
            }
            for r in 1..<size { #expect(results[r].map(\.bitPattern) == results[0].map(\.bitPattern)) }
        }
    }

    /// bf16 then shuffle+zstd sends at most 36% of the fp32 bytes on gradient-like values (2 ranks, the
    /// default chunk size, as `bench allreduce` measures it).
    @Test func bf16WithZstdSendsAtMost36PercentOfTheFp32Bytes() throws {
        let ratios = try InProcessCommunicator.run(size: 2) { comm in
            let reducer = CompressedAllReduce(communicator: comm)
            var data = gradientLike(rank: comm.rank, count: 1 << 21)
            return try data.withUnsafeMutableBufferPointer { try reducer.allReduce($0, codec: "bf16+zstd") }.ratio
        }
        for ratio in ratios { #expect(ratio <= 0.36 && ratio > 0.2, "bytes sent / fp32 bytes: \(ratio)") }
    }

    /// Top-k with error feedback: what is not sent is carried, so the accumulated output converges to the
    /// accumulated exact sum (relative error falling like 1/steps), and Σ outputs + Σ residuals = Σ inputs.
    @Test func topKErrorFeedbackConvergesToTheAccumulatedSum() throws {
        let (size, count) = (4, 1000)
        let checkpoints = [20, 100, 500]
        /// Gradients with a steady part and a part that changes from step to step, as in training.
        @Sendable func gradient(rank: Int, step: Int) -> [Float] {
            zip(
                gradientLike(rank: rank, count: count, seed: 100),
                gradientLike(rank: rank, count: count, seed: UInt64(step))
            )
            .map { $0 + 2 * $1 }
        }
        let outcomes = try InProcessCommunicator.run(size: size) { comm in
            let reducer = CompressedAllReduce(communicator: comm, chunkElements: 400)
            var accumulated = [Double](repeating: 0, count: count)
            var snapshots: [[Double]] = []
            var kept: [Int] = []
            for step in 1...checkpoints.last! {
                var data = gradient(rank: comm.rank, step: step)
                try data.withUnsafeMutableBufferPointer {
                    _ = try reducer.allReduce($0, codec: "topk:0.02", tensor: "w")
                }
                kept.append(data.filter { $0 != 0 }.count)
                for i in 0..<count { accumulated[i] += Double(data[i]) }
                if checkpoints.contains(step) { snapshots.append(accumulated) }
            }
            return (snapshots, reducer.residual(for: "w")!, kept.max()!)
        }
        var exact = [Double](repeating: 0, count: count)
        var errors: [Double] = []
        for step in 1...checkpoints.last! {
            for r in 0..<size {
                let g = gradient(rank: r, step: step)
                for i in 0..<count { exact[i] += Double(g[i]) }
            }
            if let c = checkpoints.firstIndex(of: step) {
                let norm = exact.map { $0 * $0 }.reduce(0, +).squareRoot()
                let out = outcomes[0].0[c]
                errors.append(zip(out, exact).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot() / norm)
            }
        }
        for r in 1..<size { #expect(outcomes[r].0 == outcomes[0].0, "rank \(r) differs") }
        // Each rank sends 2% of each segment (20 of 1000 here); the sum holds at most 4 × 20 non-zeros.
        #expect(outcomes.allSatisfy { $0.2 <= 80 }, "non-zeros per step: \(outcomes.map { $0.2 })")
        let norm = exact.map { $0 * $0 }.reduce(0, +).squareRoot()
        let final = outcomes[0].0.last!
        let residualTotal = (0..<count).map { i in outcomes.reduce(0.0) { $0 + Double($1.1[i]) } }
        let conservation = (0..<count).map { final[$0] + residualTotal[$0] - exact[$0] }
        #expect(conservation.map { $0 * $0 }.reduce(0, +).squareRoot() / norm < 1e-5, "Σ out + Σ residual ≠ Σ in")
        #expect(errors[0] > errors[1] && errors[1] > errors[2], "errors at \(checkpoints) steps: \(errors)")
        #expect(errors[2] < 0.05, "errors at \(checkpoints) steps: \(errors)")
    }

    @Test func aCorruptFrameFailsEveryRankNamingTheSender() throws {
        let outcomes = try InProcessCommunicator.run(size: 3) { comm -> String in
            let faulty: Communicator =
                comm.rank == 1 ? FaultInjectingCommunicator(wrapping: comm, fault: .corruptExchangedBytes) : comm
            let reducer = CompressedAllReduce(communicator: faulty, chunkElements: 100)
            var data = gradientLike(rank: comm.rank, count: 1000)
            do {
                try data.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: "zstd") }
                return "no error"
            } catch { return "\(error)" }
        }
        for (r, message) in outcomes.enumerated() {
            #expect(message.hasPrefix("rank \(r), compressedAllReduce(zstd, 1000 elements):"), "\(message)")
            #expect(message.contains("from rank 1"), "\(message)")
        }
        #expect(outcomes[0].contains("checksum mismatch") || outcomes[0].contains("zstd"))
    }

    @Test func mismatchedLengthsFailEveryRankWithoutHanging() throws {
        let outcomes = try InProcessCommunicator.run(size: 4) { comm -> String in
            let reducer = CompressedAllReduce(communicator: comm)
            var data = gradientLike(rank: comm.rank, count: comm.rank == 2 ? 101 : 100)
            do {
                try data.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: "bf16+zstd") }
                return "no error"
            } catch { return "\(error)" }
        }
        for (r, message) in outcomes.enumerated() {
            #expect(
                message.contains(
                    "rank 2 called exchangeBytes (compressedAllReduce(bf16+zstd, 101 elements)) [] while rank 0 called "
                        + "exchangeBytes (compressedAllReduce(bf16+zstd, 100 elements))"), "\(message)")
            #expect(message.hasPrefix("rank \(r), compressedAllReduce(bf16+zstd, 10"), "\(message)")
        }
    }

    @Test func anUnknownCodecOnOneRankFailsEveryRankNamingIt() throws {
        let outcomes = try InProcessCommunicator.run(size: 3) { comm -> String in
            let reducer = CompressedAllReduce(communicator: comm)
            var data = gradientLike(rank: comm.rank, count: 100)
            do {
                try data.withUnsafeMutableBufferPointer {
                    _ = try reducer.allReduce($0, codec: comm.rank == 1 ? "lz4" : "zstd")
                }
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(
            outcomes[1].contains("rank 1, compressedAllReduce(lz4, 100 elements): unknown codec 'lz4'"),
            "\(outcomes[1])")
        for r in [0, 2] {
            #expect(
                outcomes[r].contains("rank \(r), compressedAllReduce(zstd, 100 elements): rank 1: unknown codec 'lz4'"),
                "\(outcomes[r])")
        }
    }

    @Test func aTensorThatChangesLengthIsAnError() throws {
        let outcomes = try InProcessCommunicator.run(size: 2) { comm -> String in
            let reducer = CompressedAllReduce(communicator: comm)
            var a = gradientLike(rank: comm.rank, count: 100), b = gradientLike(rank: comm.rank, count: 90)
            do {
                try a.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: "topk", tensor: "fc") }
                try b.withUnsafeMutableBufferPointer { _ = try reducer.allReduce($0, codec: "topk", tensor: "fc") }
                return "no error"
            } catch { return "\(error)" }
        }
        for message in outcomes {
            #expect(message.contains("tensor 'fc' had 100 elements in an earlier call, now 90"), "\(message)")
        }
    }
}

@Suite struct ByteCollectiveTests {
    @Test(arguments: 1...8)
    func exchangeAndAllGatherDeliverVariableMessagesInRankOrder(_ size: Int) throws {
        let results = try InProcessCommunicator.run(size: size) { comm in
            let r = comm.rank
            let outgoing = (0..<size).map { q in [UInt8](repeating: UInt8(10 * r + q), count: (r + 2 * q) % 4) }
            let received = try comm.exchangeBytes(outgoing, collective: "test")
            let gathered = try comm.allGatherBytes([UInt8](repeating: UInt8(r), count: r % 3), collective: "test")
            return (received, gathered)
        }
        for (r, (received, gathered)) in results.enumerated() {
            #expect(received == (0..<size).map { q in [UInt8](repeating: UInt8(10 * q + r), count: (q + 2 * r) % 4) })
            #expect(gathered == (0..<size).map { q in [UInt8](repeating: UInt8(q), count: q % 3) })
        }
    }

    @Test func aWrongNumberOfMessagesFailsEveryRank() throws {
        let outcomes = try InProcessCommunicator.run(size: 3) { comm -> String in
            do {
                _ = try comm.exchangeBytes(Array(repeating: [1], count: comm.rank == 0 ? 2 : 3), collective: "test")
                return "no error"
            } catch { return "\(error)" }
        }
        #expect(outcomes[0] == "rank 0, test: 2 messages for 3 ranks")
        #expect(outcomes[1].hasPrefix("rank 1, test:"))
    }
}

@Suite struct SerialWorkerTests {
    /// Collectives started on a worker complete in submission order on every rank, while the caller goes
    /// on; errors come back through `wait`.
    @Test func startedCollectivesCompleteInOrderAndErrorsComeBack() throws {
        let results = try InProcessCommunicator.run(size: 3) { comm in
            let worker = SerialWorker()
            let buffers = (0..<4).map { b in UnsafeMutableBufferPointer<Float>.allocate(capacity: 100 + b) }
            defer { buffers.forEach { $0.deallocate() } }
            for (b, buffer) in buffers.enumerated() {
                _ = buffer.initialize(from: contribution(rank: comm.rank, count: 100 + b))
            }
            let pending = buffers.map { buffer in worker.submit { try comm.allReduce(buffer) } }
            let failing = worker.submit { () throws -> Int in
                throw CollectiveError(rank: 0, collective: "x", problem: "y")
            }
            for p in pending { try p.wait() }
            #expect(throws: CollectiveError.self) { try failing.wait() }
            return buffers.map { Array($0) }
        }
        for rank in results {
            for (b, buffer) in rank.enumerated() { #expect(buffer == rankOrderSum(size: 3, count: 100 + b)) }
        }
    }
}
