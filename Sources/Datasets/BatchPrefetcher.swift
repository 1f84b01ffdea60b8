import Dispatch

/// Fills a sampler's coming batches on a background thread while the caller computes, so decoding overlaps
/// the step (Note [prefetching]).
///
/// Note [prefetching]: a batch's pixels are a pure function of (seed, epoch, example, use) (`ExampleSource`),
/// so filling it early, on another thread, gives the bytes filling it on time would: prefetching changes when
/// a batch is made, never what it holds. The caller names the batches it will ask for (`prefetch`), in order;
/// at most `depth` are made ahead, each in its own buffer (memory: `depth` batches). `fill` takes the
/// requested batch if it was made ahead (waiting for it if it is still being made) and makes it on the spot
/// otherwise; batches made ahead that were skipped are dropped. An error met while making a batch ahead is
/// thrown by the `fill` that asks for it, as filling on time would have thrown it.
public final class BatchPrefetcher: @unchecked Sendable {
    /// A batch: examples of an epoch, for a use.
    public struct Request: Sendable, Hashable {
        public var examples: [Int]
        public var epoch: Int
        public var use: ExampleUse

        public init(_ examples: some Collection<Int>, epoch: Int, use: ExampleUse) {
            self.examples = Array(examples)
            self.epoch = epoch
            self.use = use
        }
    }

    public let sampler: BatchSampler
    /// Batches made ahead at most (0: none, every `fill` on the spot).
    public let depth: Int
    private let exampleSize: Int
    private let worker = DispatchQueue(label: "alexnet-dist.prefetch")
    /// Batches requested and not yet taken, oldest first. Touched by the caller's thread only; the worker
    /// writes a batch's buffers and `error`, then leaves its `done` group.
    private var pending: [Batch] = []
    /// Buffers of batches taken, for reuse.
    private var spare: [Batch] = []

    private final class Batch: @unchecked Sendable {
        var request: Request
        let images: UnsafeMutableBufferPointer<Float>
        let labels: UnsafeMutableBufferPointer<Int32>
        var error: Error?
        let done = DispatchGroup()

        init(request: Request, capacity: Int, exampleSize: Int) {
            self.request = request
            images = .allocate(capacity: capacity * exampleSize)
            labels = .allocate(capacity: capacity)
        }

        var capacity: Int { labels.count }

        deinit {
            images.deallocate()
            labels.deallocate()
        }
    }

    public init(sampler: BatchSampler, depth: Int) {
        precondition(depth >= 0, "BatchPrefetcher: depth \(depth)")
        self.sampler = sampler
        self.depth = depth
        exampleSize = sampler.source.exampleShape.reduce(1, *)
    }

    deinit {
        for batch in pending { batch.done.wait() }
    }

    /// Starts making `requests` (the batches `fill` will ask for next, in order) beyond those already
    /// pending, up to `depth` ahead.
    public func prefetch(_ requests: [Request]) {
        for request in requests where pending.count < depth && !pending.contains(where: { $0.request == request }) {
            let batch = reuse(for: request)
            pending.append(batch)
            batch.done.enter()
            let sampler = self.sampler, size = exampleSize
            worker.async {
                let n = request.examples.count
                do {
                    try sampler.fill(
                        request.examples, epoch: request.epoch, use: request.use,
                        images: UnsafeMutableBufferPointer(rebasing: batch.images[0..<(n * size)]),
                        labels: UnsafeMutableBufferPointer(rebasing: batch.labels[0..<n]))
                } catch { batch.error = error }
                batch.done.leave()
            }
        }
    }

    /// Writes the batch `request` into `images` (N, C, H, W) and `labels` (N): made ahead if it was
    /// requested, on the spot otherwise.
    public func fill(
        _ request: Request, images: UnsafeMutableBufferPointer<Float>, labels: UnsafeMutableBufferPointer<Int32>
    ) throws {
        let n = request.examples.count
        precondition(images.count >= n * exampleSize && labels.count >= n, "BatchPrefetcher: buffers too small")
        guard let index = pending.firstIndex(where: { $0.request == request }) else {
            for batch in pending { retire(batch) }
            pending.removeAll()
            try sampler.fill(request.examples, epoch: request.epoch, use: request.use, images: images, labels: labels)
            return
        }
        for batch in pending[..<index] { retire(batch) }
        let batch = pending[index]
        pending.removeFirst(index + 1)
        batch.done.wait()
        defer { keep(batch) }
        if let error = batch.error { throw error }
        images.baseAddress!.update(from: batch.images.baseAddress!, count: n * exampleSize)
        labels.baseAddress!.update(from: batch.labels.baseAddress!, count: n)
    }

    /// A batch no longer wanted: its buffers are reused once the worker is done with them.
    private func retire(_ batch: Batch) {
        batch.done.wait()
        keep(batch)
    }

    /// Keeps a batch's buffers for reuse, never more than `depth` batches' in all (the smallest go first).
    private func keep(_ batch: Batch) {
        spare.append(batch)
        spare.sort { $0.capacity > $1.capacity }
        while !spare.isEmpty && spare.count + pending.count > depth { spare.removeLast() }
    }

    private func reuse(for request: Request) -> Batch {
        if let i = spare.firstIndex(where: { $0.capacity >= request.examples.count }) {
            let batch = spare.remove(at: i)
            batch.request = request
            batch.error = nil
            return batch
        }
        return Batch(request: request, capacity: request.examples.count, exampleSize: exampleSize)
    }
}
