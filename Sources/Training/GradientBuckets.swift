import Collectives
import Compute

/// Sums the gradients of replicated parameters over the ranks, bucket by bucket, while backward is still
/// running: the role of PyTorch DDP's reducer and Horovod's fusion, over ranges of the flat gradient arena
/// (no fusion-buffer copies).
///
/// Buckets are formed once, identically on every rank: whole layers taken in backward order (conv5 before
/// conv1) until a bucket holds at least `bucketElements`. Each layer's weight and bias lie side by side in
/// the arena and layers are in network order, so a bucket is one contiguous range. When backward has
/// finished every layer of the next bucket, its allreduce is started on a transfer thread (`overlap`) and
/// the caller goes on with the layers below; `finish` waits for all of them, in order.
///
/// ## Note [gradient averaging]
///
/// Each rank scales its loss gradient by 1 / (examples in the whole step, over all ranks), so the sum over
/// ranks is already the gradient of the mean loss over the step: nothing is divided after the allreduce,
/// and one process training with the whole batch computes the same quantity.
///
/// ## Note [one gradient stream]
///
/// With the FC layers sharded within groups (G < K) a step has two gradient streams: the replicated layers'
/// buckets over all K ranks and the FC shards' over the K/G ranks holding the same shard. They share one
/// transfer thread (`RankModel` passes one `SerialWorker` to both), so their allreduces run one after
/// another in the order they start — the shards' first, when the FC backward ends; the same order on every
/// rank, so no collective waits on another. On two threads the two streams ran at once and two threads
/// blocked in MPI polled for progress side by side, which on a host with a fraction of a core cost more
/// than the link: owt, 32 per rank, K = 4, G = 2, 4 emulated hosts of half a core (`bench scaling`, the two
/// builds alternated): 1 Gbit/s 2.72 and 2.75 s per step on two threads against 2.09 and 2.32 s on one
/// (exposed communication 1.30 and 1.33 s against 0.70 and 0.62 s), 500 Mbit/s 5.03 against 3.73 s,
/// 2 Gbit/s 1.98 against 1.82 s; on shared memory (4 ranks, 2 cores) 2.43 against 2.37 s.
///
public final class GradientBuckets {
    public struct Bucket: Sendable, Equatable {
        /// `bucket0` …: the residual's name under error-feedback codecs.
        public let name: String
        /// Layers, in backward order.
        public let layers: [String]
        /// The arena range: the layers' weights and biases and the alignment gaps between them.
        public let range: Range<Int>
    }

    public let buckets: [Bucket]
    public let codec: Codec
    private let arena: ParameterArena
    private let reducer: CompressedAllReduce
    private let worker: SerialWorker?
    /// A communicator of one rank: no bucket is ever sent.
    private let alone: Bool
    private var finishedLayers: Set<String> = []
    private var pending: [Pending<CompressionStatistics>] = []

    /// - Parameters:
    ///   - views: the parameters to synchronise, in network order, contiguous in the arena.
    ///   - communicator: used by this object alone (from its transfer thread with `overlap`).
    ///   - overlap: run the allreduces on a transfer thread (the communicator must allow calls from another
    ///     thread while the caller uses other communicators).
    ///   - worker: that thread, where another bucket set shares it (Note [one gradient stream]); a new one
    ///     when nil.
    ///   - timeline: where the codecs' work is recorded (the communicator records its collectives).
    public init(
        arena: ParameterArena, views: [ParameterView], bucketElements: Int, communicator: Communicator,
        codec: Codec, overlap: Bool, worker: SerialWorker? = nil, timeline: Timeline? = nil
    ) {
        self.buckets = GradientBuckets.buckets(views: views, bucketElements: bucketElements)
        self.codec = codec
        self.arena = arena
        alone = communicator.size == 1
        reducer = CompressedAllReduce(communicator: communicator, overlap: overlap)
        reducer.timeline = timeline
        self.worker = overlap ? worker ?? SerialWorker(name: "buckets") : nil
    }

    /// The default bucket size: 2 MB of fp32, near PyTorch DDP's first bucket and Horovod's fusion threshold
    /// scaled to this model.
    public static let defaultBucketElements = 1 << 19

    /// The buckets of `views` (in network order, contiguous in their arena), formed as described above.
    public static func buckets(views: [ParameterView], bucketElements: Int) -> [Bucket] {
        precondition(bucketElements >= 1, "gradient buckets: bucketElements must be positive, got \(bucketElements)")
        var layers: [String] = []
        for view in views.reversed() where layers.last != view.layer { layers.append(view.layer) }
        var buckets: [Bucket] = []
        var current: [String] = []
        func close() {
            guard !current.isEmpty else { return }
            let members = views.filter { current.contains($0.layer) }
            buckets.append(
                Bucket(name: "bucket\(buckets.count)", layers: current, range: ParameterArena.range(of: members)))
            current = []
        }
        for layer in layers {
            current.append(layer)
            let elements = views.filter { current.contains($0.layer) }.reduce(0) { $0 + $1.count }
            if elements >= bucketElements { close() }
        }
        close()
        return buckets
    }

    /// Tells that backward has finished `layer` (its gradients are final); starts every bucket now complete.
    /// Layers that hold no synchronised parameters are ignored.
    public func finished(layer: String) {
        // One rank's gradients are already the step's sums: nothing to send, nothing to compress.
        guard !alone else { return }
        finishedLayers.insert(layer)
        while pending.count < buckets.count, buckets[pending.count].layers.allSatisfy(finishedLayers.contains) {
            let bucket = buckets[pending.count]
            let gradients = UnsafeMutableBufferPointer(rebasing: arena.gradients[bucket.range])
            let reducer = reducer, codec = codec
            let work = { try reducer.allReduce(gradients, codec: codec, tensor: bucket.name) }
            pending.append(worker.map { $0.submit(work) } ?? Pending(Result { try work() }))
        }
    }

    /// Starts what is left, waits for every bucket and returns this step's figures. Afterwards the gradients
    /// of every synchronised parameter are the sums over the ranks (Note [gradient averaging]).
    @discardableResult
    public func finish() throws -> CompressionStatistics {
        if !alone { for bucket in buckets { for layer in bucket.layers { finished(layer: layer) } } }
        var total = CompressionStatistics()
        var failure: Error?
        for step in pending {
            do { total += try step.wait() } catch { failure = failure ?? error }
        }
        pending = []
        finishedLayers = []
        if let failure { throw failure }
        return total
    }

    /// The error-feedback residuals (per bucket, this rank's), for checkpoints.
    public func residual(for bucket: Bucket) -> [Float]? { reducer.residual(for: bucket.name) }

    /// This rank's error-feedback residuals laid out as the arena's gradients, over these buckets' ranges
    /// (zero where there are none, as before the first step or with a codec without error feedback); the
    /// rest of `buffer` is left as it was.
    public func residuals(into buffer: UnsafeMutableBufferPointer<Float>) {
        precondition(
            buffer.count == arena.count, "gradient buckets: residual buffer of \(buffer.count), arena \(arena.count)")
        for bucket in buckets {
            let target = UnsafeMutableBufferPointer(rebasing: buffer[bucket.range])
            if let residual = reducer.residual(for: bucket.name) {
                _ = target.update(fromContentsOf: residual)
            } else {
                _ = target.update(repeating: 0)
            }
        }
    }

    /// Sets every bucket's residual from `buffer`, laid out as the arena's gradients (resuming a checkpoint).
    public func restoreResiduals(from buffer: UnsafeBufferPointer<Float>) {
        precondition(
            buffer.count == arena.count, "gradient buckets: residual buffer of \(buffer.count), arena \(arena.count)")
        for bucket in buckets {
            reducer.setResidual(UnsafeBufferPointer(rebasing: buffer[bucket.range]), for: bucket.name)
        }
    }
}
