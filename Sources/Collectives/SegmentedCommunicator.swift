/// A communicator built on two primitives that name the collective they serve in their errors. The
/// extension derives the public `reduceScatter` and `allGather`, and `allReduce` as a reduce-scatter
/// over `segmentCounts` followed by an all-gather, so every implementation splits and reduces the same
/// way (Note [deterministic reduction]) and an allreduce's errors say "allReduce".
public protocol SegmentedCommunicator: Communicator {
    /// `reduceScatter`, reporting errors as `collective`.
    func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>,
        collective: String) throws
    /// `allGather`, reporting errors as `collective`.
    func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>,
        collective: String) throws
}

extension SegmentedCommunicator {
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, collective: String) throws {
        let counts = segmentCounts(buffer.count, parts: size)
        // At least one element, so the shard has an address even when this rank's segment is empty.
        let storage = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(counts[rank], 1))
        defer { storage.deallocate() }
        let shard = UnsafeMutableBufferPointer(rebasing: storage[0..<counts[rank]])
        try reduceScatter(UnsafeBufferPointer(buffer), counts: counts, into: shard, collective: collective)
        try allGather(UnsafeBufferPointer(shard), counts: counts, into: buffer, collective: collective)
    }

    public func reduceScatter(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        try reduceScatter(input, counts: counts, into: output, collective: "reduceScatter")
    }

    public func allGather(
        _ input: UnsafeBufferPointer<Float>, counts: [Int], into output: UnsafeMutableBufferPointer<Float>
    ) throws {
        try allGather(input, counts: counts, into: output, collective: "allGather")
    }
}

/// The error `check` throws, if any. Collectives check their arguments this way and report a failure
/// only after the ranks' agreement step, so no rank is left waiting for one that gave up early.
public func deferredError(_ check: () throws -> Void) -> Error? {
    do { try check() } catch { return error }
    return nil
}
