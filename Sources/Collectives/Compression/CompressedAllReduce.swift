import CCodecKernels
import Foundation
import Timing

/// A gradient allreduce that compresses what it sends: a strategy wrapped around a `Communicator` (as
/// Horovod's compressors and DDP's communication hooks are), not a new backend.
///
/// ## Note [compressed allreduce]
///
/// The buffer is cut into chunks of `chunkElements`; each chunk into one segment per rank
/// (`segmentCounts`), owned by that rank. For each chunk:
///
/// 1. every rank encodes its contribution to each segment once and sends it to the owner (`exchangeBytes`);
/// 2. the owner decodes the K frames and sums them in rank order (Note [deterministic reduction]), then
///    encodes the reduced segment once;
/// 3. the reduced segments are all-gathered (`allGatherBytes`) and every rank, the owner included, decodes
///    them into the buffer.
///
/// So a value is rounded at most twice whatever the number of ranks (no error added per ring hop), and
/// every rank ends with bit-identical results, under MPI and in-process alike. Lossless codecs (`zstd`)
/// give exactly the plain allreduce's sums; `none` is the plain allreduce itself.
///
/// `topk` keeps, per segment, the largest `fraction` of (gradient + residual) and carries the rest, the
/// residual, to the next call for the same tensor (error feedback, per tensor and per rank). The owner's
/// sum of sparse frames is sent back as a sparse frame of its non-zeros, losslessly; so Σ outputs +
/// Σ residuals over ranks = Σ inputs, up to float rounding.
///
/// With `overlap`, a transfer thread runs the collectives of chunk c while the calling thread encodes
/// chunk c+1 and decodes chunk c−1. Frames carry a header with a checksum (`FrameCodec`); a rank that finds
/// a bad frame still takes part in the remaining collectives, and a final exchange of status lets every
/// rank throw, naming the rank and the problem, instead of hanging or summing garbage.
public final class CompressedAllReduce {
    public let communicator: Communicator
    public let chunkElements: Int
    public let overlap: Bool
    private let frames = FrameCodec()
    private lazy var worker = SerialWorker(name: "transfer")
    private var residuals: [String: UnsafeMutableBufferPointer<Float>] = [:]
    private let scratch = FloatScratch()
    /// Where encoding and decoding are recorded as compression spans (the collectives are recorded by a
    /// `MeteredCommunicator` with the same timeline).
    public var timeline: Timeline?

    /// - Parameters:
    ///   - chunkElements: elements per pipeline chunk.
    ///   - overlap: run collectives on a transfer thread (the communicator must allow calls from another
    ///     thread, as `MPICommunicator.allowsCallsFromOtherThreads` tells).
    public init(communicator: Communicator, chunkElements: Int = 1 << 20, overlap: Bool = true) {
        precondition(chunkElements >= 1, "CompressedAllReduce: chunkElements must be positive, got \(chunkElements)")
        self.communicator = communicator
        self.chunkElements = chunkElements
        self.overlap = overlap
    }

    deinit {
        for buffer in residuals.values { buffer.deallocate() }
    }

    /// Sums `buffer` over all ranks, in place, with the codec named `name` (`Codec.grammar`). A name that
    /// does not parse fails on every rank, naming the rank that gave it.
    @discardableResult
    public func allReduce(
        _ buffer: UnsafeMutableBufferPointer<Float>, codec name: String, tensor: String = ""
    )
        throws -> CompressionStatistics
    {
        do {
            return try allReduce(buffer, codec: try Codec(parsing: name), tensor: tensor)
        } catch let error as CodecError {
            let collective = CompressedAllReduce.collective(name, tensor: tensor, count: buffer.count)
            try communicator.decline(
                collective, because: CollectiveError(rank: rank, collective: collective, problem: "\(error)"))
        }
    }

    /// Sums `buffer` over all ranks, in place, with `codec`; `tensor` names the error-feedback residual.
    /// The codec, the tensor and the length, named in every collective of the call, are agreed in the first
    /// one (Note [one agreement per collective]): `none` is one plain allreduce, agreement included.
    @discardableResult
    public func allReduce(
        _ buffer: UnsafeMutableBufferPointer<Float>, codec: Codec, tensor: String = ""
    ) throws
        -> CompressionStatistics
    {
        let collective = CompressedAllReduce.collective(codec.description, tensor: tensor, count: buffer.count)
        if case .topk = codec.values, let existing = residuals[tensor], existing.count != buffer.count {
            try communicator.decline(
                collective,
                because: CollectiveError(
                    rank: rank, collective: collective,
                    problem: "tensor '\(tensor)' had \(existing.count) elements in an earlier call, now \(buffer.count)"
                ))
        }
        if codec.isIdentity {
            try communicator.allReduce(buffer, collective: collective)
            var statistics = CompressionStatistics()
            statistics.add(fp32Exchange(buffer.count), sent: fp32Exchange(buffer.count))
            return statistics
        }
        return try pipeline(buffer, codec: codec, tensor: tensor, collective: collective)
    }

    /// The name of a call's collectives, in agreements and errors:
    /// "compressedAllReduce(bf16, bucket0, 2408448 elements)".
    static func collective(_ codec: String, tensor: String, count: Int) -> String {
        "compressedAllReduce(\(codec)\(tensor.isEmpty ? "" : ", \(tensor)"), \(count) elements)"
    }

    /// The error-feedback residual this rank carries for `tensor` (nil if none yet).
    public func residual(for tensor: String) -> [Float]? {
        residuals[tensor].map { Array($0) }
    }

    /// Sets the error-feedback residual this rank carries for `tensor` (for example from a checkpoint); the
    /// next call for `tensor` must have `values.count` elements.
    public func setResidual(_ values: UnsafeBufferPointer<Float>, for tensor: String) {
        if let existing = residuals[tensor], existing.count == values.count {
            _ = existing.update(fromContentsOf: values)
            return
        }
        residuals[tensor]?.deallocate()
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: values.count)
        _ = buffer.initialize(fromContentsOf: values)
        residuals[tensor] = buffer
    }

    /// Forgets every residual (for example when training restarts from a checkpoint without them).
    public func resetResiduals() {
        for buffer in residuals.values { buffer.deallocate() }
        residuals = [:]
    }

    // MARK: The collective

    private var rank: Int { communicator.rank }
    private var size: Int { communicator.size }

    /// The fp32 bytes this rank sends in an uncompressed reduce-scatter + all-gather of `count` elements.
    private func fp32Exchange(_ count: Int) -> Int {
        let mine = segmentCounts(count, parts: size)[rank]
        return 4 * ((count - mine) + mine * (size - 1))
    }

    private func pipeline(
        _ buffer: UnsafeMutableBufferPointer<Float>, codec: Codec, tensor: String, collective: String
    ) throws -> CompressionStatistics {
        let n = buffer.count
        let chunks = stride(from: 0, to: n, by: chunkElements).map { $0..<min(n, $0 + chunkElements) }
        var statistics = CompressionStatistics()
        var firstError: Error?
        func note(_ error: Error) {
            if firstError == nil {
                firstError = error
            }
        }
        let residual = residualBuffer(codec, tensor: tensor, count: n)
        let comm = communicator
        var exchanges: [Pending<[[UInt8]]>] = []
        var gathers: [Pending<[[UInt8]]>] = []
        // The first exchange carries the call's agreement (codec, tensor, length in `collective`): nothing
        // else is started until it is done, so a disagreement stops every rank at the same collective.
        var firstExchange: [[UInt8]]?
        for step in 0..<(chunks.count + 2) {
            if step < chunks.count {
                let outgoing = encodeContributions(buffer, chunks[step], codec, residual, &statistics)
                if step == 1 { firstExchange = try exchanges[0].wait() }
                exchanges.append(transfer { try comm.exchangeBytes(outgoing, collective: collective) })
            }
            if step >= 1 && step <= chunks.count {
                let c = step - 1
                if c == 0 && firstExchange == nil { firstExchange = try exchanges[0].wait() }
                var reduced: [UInt8] = []
                do {
                    let received = c == 0 ? firstExchange! : try exchanges[c].wait()
                    reduced = try reduce(received, chunks[c], codec, collective, &statistics)
                } catch { note(error) }
                gathers.append(transfer { [reduced] in try comm.allGatherBytes(reduced, collective: collective) })
            }
            if step >= 2 {
                let c = step - 2
                do {
                    try decodeReduced(try gathers[c].wait(), chunks[c], codec, buffer, collective, &statistics)
                } catch { note(error) }
            }
        }
        // Every rank learns whether any failed, so they all throw (or return) together.
        // A rank that disagreed in an earlier collective of the call reports that, not this one's failure.
        let status: [String]
        do {
            status = try communicator.allGatherBytes(
                Array((firstError.map(CollectiveStatement.reason) ?? "").utf8), collective: collective
            ).map { String(decoding: $0, as: UTF8.self) }
        } catch { throw firstError ?? error }
        if let firstError { throw firstError }
        if let q = status.firstIndex(where: { !$0.isEmpty }) {
            throw CollectiveError(rank: rank, collective: collective, problem: "rank \(q) failed: \(status[q])")
        }
        return statistics
    }

    private func transfer<T>(_ work: @escaping () throws -> T) -> Pending<T> {
        overlap ? worker.submit(work) : Pending(Result { try work() })
    }

    /// The element ranges of `chunk` owned by each rank.
    private func segments(_ chunk: Range<Int>) -> [Range<Int>] {
        var start = chunk.lowerBound
        return segmentCounts(chunk.count, parts: size).map { count in
            defer { start += count }
            return start..<(start + count)
        }
    }

    /// Step 1: this rank's contribution to each segment of `chunk`, one frame per owner.
    private func encodeContributions(
        _ buffer: UnsafeMutableBufferPointer<Float>, _ chunk: Range<Int>, _ codec: Codec,
        _ residual: UnsafeMutableBufferPointer<Float>?, _ statistics: inout CompressionStatistics
    ) -> [[UInt8]] {
        let started = monotonicSeconds()
        let outgoing = segments(chunk).map { segment -> [UInt8] in
            let values = UnsafeBufferPointer(rebasing: buffer[segment])
            switch codec.values {
            case .topk(let fraction):
                return encodeTopK(
                    values, residual: UnsafeMutableBufferPointer(rebasing: residual![segment]),
                    fraction: fraction, zstdLevel: codec.zstdLevel!)
            default:
                return frames.encode(values, as: frameKind(codec), zstdLevel: codec.zstdLevel)
            }
        }
        let finished = monotonicSeconds()
        statistics.encodeSeconds += finished - started
        timeline?.add("encode \(codec)", .compression, start: started, end: finished)
        statistics.encodedBytes += 4 * chunk.count
        let mine = segments(chunk)[rank].count
        statistics.add(
            4 * (chunk.count - mine),
            sent: outgoing.enumerated().filter { $0.offset != rank }.map(\.element.count).reduce(0, +))
        return outgoing
    }

    /// Top-k with error feedback on one segment: v = values + residual; send the k largest |v|; keep the
    /// rest of v as the residual.
    private func encodeTopK(
        _ values: UnsafeBufferPointer<Float>, residual: UnsafeMutableBufferPointer<Float>, fraction: Double,
        zstdLevel: Int
    ) -> [UInt8] {
        let n = values.count
        let k = n == 0 ? 0 : min(n, max(1, Int((fraction * Double(n)).rounded(.up))))
        let v = scratch.floats(0, n)
        for i in 0..<n { v[i] = values[i] + residual[i] }
        let keys = scratch.keys(n)
        let indices = scratch.indices(k)
        codec_top_k(v.baseAddress, n, k, indices.baseAddress, keys.baseAddress)
        let kept = scratch.floats(1, k)
        _ = residual.update(fromContentsOf: v)
        for j in 0..<k {
            kept[j] = v[Int(indices[j])]
            residual[Int(indices[j])] = 0
        }
        return frames.encodeSparse(
            count: n, indices: UnsafeBufferPointer(indices), values: UnsafeBufferPointer(kept), zstdLevel: zstdLevel)
    }

    /// Step 2: sum the frames received for this rank's segment of `chunk` in rank order; encode the sum.
    private func reduce(
        _ received: [[UInt8]], _ chunk: Range<Int>, _ codec: Codec, _ collective: String,
        _ statistics: inout CompressionStatistics
    ) throws -> [UInt8] {
        let started = monotonicSeconds()
        let segment = segments(chunk)[rank]
        let n = segment.count
        let sum = scratch.floats(0, n), term = scratch.floats(1, n)
        for q in 0..<size {
            try decode(received[q], from: q, chunk, segment, codec, into: q == 0 ? sum : term, collective)
            if q > 0 { for i in 0..<n { sum[i] += term[i] } }
        }
        statistics.decodedBytes += 4 * n * size
        let reduced: [UInt8]
        if case .topk = codec.values {
            var indices: [UInt32] = []
            var values: [Float] = []
            for i in 0..<n where sum[i].bitPattern != 0 {
                indices.append(UInt32(i))
                values.append(sum[i])
            }
            reduced = indices.withUnsafeBufferPointer { i in
                values.withUnsafeBufferPointer {
                    frames.encodeSparse(count: n, indices: i, values: $0, zstdLevel: codec.zstdLevel!)
                }
            }
        } else {
            reduced = frames.encode(UnsafeBufferPointer(sum), as: frameKind(codec), zstdLevel: codec.zstdLevel)
        }
        statistics.encodedBytes += 4 * n
        let finished = monotonicSeconds()
        statistics.encodeSeconds += finished - started
        timeline?.add("reduce \(codec)", .compression, start: started, end: finished)
        statistics.add(4 * n * (size - 1), sent: reduced.count * (size - 1))
        return reduced
    }

    /// Step 3: decode every owner's reduced segment of `chunk` into `buffer`.
    private func decodeReduced(
        _ gathered: [[UInt8]], _ chunk: Range<Int>, _ codec: Codec, _ buffer: UnsafeMutableBufferPointer<Float>,
        _ collective: String, _ statistics: inout CompressionStatistics
    ) throws {
        let started = monotonicSeconds()
        for (q, segment) in segments(chunk).enumerated() {
            try decode(
                gathered[q], from: q, chunk, segment, codec,
                into: UnsafeMutableBufferPointer(rebasing: buffer[segment]),
                collective, reduced: true)
        }
        statistics.decodedBytes += 4 * chunk.count
        let finished = monotonicSeconds()
        statistics.decodeSeconds += finished - started
        timeline?.add("decode \(codec)", .compression, start: started, end: finished)
    }

    private func decode(
        _ frame: [UInt8], from q: Int, _ chunk: Range<Int>, _ segment: Range<Int>, _ codec: Codec,
        into output: UnsafeMutableBufferPointer<Float>, _ collective: String, reduced: Bool = false
    ) throws {
        do {
            try frames.decode(frame, kind: frameKind(codec), zstd: codec.zstdLevel != nil, into: output)
        } catch {
            let problem = (error as? FrameError)?.problem ?? "\(error)"
            let what = reduced ? "reduced segment" : "frame"
            throw CollectiveError(
                rank: rank, collective: collective,
                problem: "\(what) from rank \(q) for elements \(segment.lowerBound)..<\(segment.upperBound) "
                    + "(chunk \(chunk.lowerBound / chunkElements)): \(problem)")
        }
    }

    private func frameKind(_ codec: Codec) -> FrameKind {
        switch codec.values {
        case .fp32: .fp32
        case .bf16: .bf16
        case .fp16: .fp16
        case .topk: .sparse
        }
    }

    private func residualBuffer(_ codec: Codec, tensor: String, count: Int) -> UnsafeMutableBufferPointer<Float>? {
        guard case .topk = codec.values else { return nil }
        if let existing = residuals[tensor] { return existing }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: 0)
        residuals[tensor] = buffer
        return buffer
    }
}
