/// A group of ranks that exchange `Float` buffers: the narrow interface the trainers use, implemented over
/// OpenMPI (`MPICommunicator`) and over threads in one process (`InProcessCommunicator`).
///
/// ## Ordering contract
///
/// Every rank of a communicator issues the same collectives, with the same roots and agreeing sizes, in the
/// same order (as with MPI and PyTorch's `ProcessGroupMPI`). A rank that deviates gets a `CollectiveError`
/// naming the rank and the collective, where the implementation can detect it, rather than a hang.
///
/// ## Note [one agreement per collective]
///
/// Before moving data, the ranks agree once on what they are doing: the collective's name (which callers
/// extend with what they state, such as a codec and a tensor), its sizes and roots, and whether each
/// rank's own arguments passed their checks. Under MPI that is one `MPI_Allgather` of an 8-byte hash;
/// only when the hashes differ do the ranks exchange their statements in full, so that every rank's error
/// names the rank that differs and what it said. A rank that cannot take part at all (`decline`) states
/// why in that same agreement. Wrappers (`CompressedAllReduce`) fold what they must agree on into the
/// collective they call, rather than agreeing separately.
///
/// ## Note [deterministic reduction]
///
/// Sums are computed element by element in rank order, `((x₀ + x₁) + x₂) + …`, by whichever rank owns the
/// element's shard, and the result is copied, never re-summed, to the other ranks. So a reduction gives
/// bit-identical results on every rank, in every run, and under every implementation of this protocol.
public protocol Communicator: AnyObject {
    /// This rank, in 0 ..< size.
    var rank: Int { get }
    /// Number of ranks.
    var size: Int { get }

    /// Sums `buffer` over all ranks, in place (same length everywhere). `collective` is what the caller
    /// states it is doing (Note [one agreement per collective]) and names the errors.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, collective: String) throws
    /// Sums `input` (Σ counts long, same everywhere) over all ranks; rank r receives the sum of segment r
    /// (`counts[r]` elements, in order) in `output`.
    func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>) throws
    /// Concatenates every rank's `input` (`counts[r]` elements from rank r) into `output` on every rank.
    func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>) throws
    /// Copies `buffer` of rank `root` into `buffer` on every rank.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Sums `buffer` over all ranks into `buffer` of rank `root` (other ranks' buffers are unchanged).
    func reduce(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Rank r sends `input[sendOffsets(r→q)]` (`sendCounts[q]` elements, in destination order) to each rank q
    /// and receives `receiveCounts[q]` elements from each q, concatenated in source order, into `output`.
    func allToAll(
        _ input: UnsafeBufferPointer<Float>, sendCounts: [Int],
        into output: UnsafeMutableBufferPointer<Float>, receiveCounts: [Int]) throws
    /// Rank r sends `messages[q]` (any length, one per rank) to each rank q and returns what each rank sent to
    /// r, in rank order: the variable-size exchange of compressed frames. Errors name `collective`.
    func exchangeBytes(_ messages: [[UInt8]], collective: String) throws -> [[UInt8]]
    /// Every rank's `message` (any length), in rank order, on every rank. Errors name `collective`.
    func allGatherBytes(_ message: [UInt8], collective: String) throws -> [[UInt8]]
    /// Returns when every rank has called it.
    func barrier() throws
    /// Takes the place of the collective the other ranks are entering when this rank cannot: it joins their
    /// agreement stating `error`, so every rank fails naming this rank and the error instead of waiting for
    /// it, and throws `error`.
    func decline(_ collective: String, because error: Error) throws -> Never
    /// Splits into sub-communicators: ranks passing the same `color` form one, ordered by (`key`, rank).
    func split(color: Int, key: Int) throws -> Communicator
}

extension Communicator {
    /// Sums `buffer` over all ranks, in place, as the collective "allReduce".
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try allReduce(buffer, collective: "allReduce")
    }
}

/// `count` elements split into `parts` contiguous segments whose sizes differ by at most one (the first
/// `count % parts` segments are one longer): the segment each rank owns in an allreduce, in every
/// implementation.
public func segmentCounts(_ count: Int, parts: Int) -> [Int] {
    (0..<parts).map { count / parts + ($0 < count % parts ? 1 : 0) }
}

/// The sum of Note [deterministic reduction]: `output[i] = ((terms[0][i] + terms[1][i]) + …) + terms[k−1][i]`,
/// written once so that every collective and both communicators add in the same order.
@inlinable
public func sumInRankOrder(_ terms: [UnsafePointer<Float>], count: Int, into output: UnsafeMutablePointer<Float>) {
    guard let first = terms.first else { return }
    for i in 0..<count {
        var sum = first[i]
        for q in 1..<terms.count { sum += terms[q][i] }
        output[i] = sum
    }
}

extension Communicator {
    /// Every rank's `values` (the same count on every rank), in rank order, on every rank: for small
    /// figures (timings, tallies) exchanged exactly, as the bits of each Double. Errors name `collective`.
    public func allGatherDoubles(_ values: [Double], collective: String) throws -> [[Double]] {
        let bytes = values.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }
        return try allGatherBytes(bytes, collective: collective).enumerated().map { q, message in
            guard message.count == bytes.count else {
                throw CollectiveError(
                    rank: rank, collective: collective,
                    problem: "rank \(q) sent \(message.count / 8) values, expected \(values.count)")
            }
            return stride(from: 0, to: message.count, by: 8).map { offset in
                var bits: UInt64 = 0
                for j in 0..<8 { bits |= UInt64(message[offset + j]) << (8 * j) }
                return Double(bitPattern: bits)
            }
        }
    }
}

/// How `MPICommunicator` splits an allreduce (declared here so that cost models can count its steps).
public enum MPIAllReduceChunking {
    /// Floats per chunk: a direct exchange and a gather each.
    public static let elements = 1 << 24
}
