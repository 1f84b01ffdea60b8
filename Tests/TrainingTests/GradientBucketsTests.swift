import Collectives
import Compute
import Testing

@testable import Training

/// Bucket formation and the moment each bucket's allreduce starts.
@Suite struct GradientBucketsTests {
    /// `small`'s conv parameters, in arena order (conv1 … conv5: 1,664, 204,928, 221,376, 331,968 and
    /// 221,312 elements with biases).
    static let convViews: [ParameterView] = {
        let arena = AlexNet.small.makeArena()
        let conv = Set(AlexNet.small.features.map(\.name))
        return arena.views.filter { conv.contains($0.layer) }
    }()

    /// Whole layers in backward order until a bucket holds at least `bucketElements`; each bucket one
    /// contiguous arena range covering exactly its layers' tensors.
    @Test func bucketsTakeWholeLayersInBackwardOrder() {
        let buckets = GradientBuckets.buckets(views: Self.convViews, bucketElements: 400_000)
        #expect(buckets.map(\.layers) == [["conv5", "conv4"], ["conv3", "conv2"], ["conv1"]])
        #expect(buckets.map(\.name) == ["bucket0", "bucket1", "bucket2"])
        for bucket in buckets {
            let members = Self.convViews.filter { bucket.layers.contains($0.layer) }
            #expect(bucket.range == ParameterArena.range(of: members))
            #expect(members.reduce(0) { $0 + $1.count } <= bucket.range.count)
        }
        // Later layers lie higher in the arena: bucket k+1 ends where bucket k's layers begin, or below.
        #expect(buckets[1].range.upperBound <= buckets[0].range.lowerBound)
        #expect(buckets[2].range.upperBound <= buckets[1].range.lowerBound)
        #expect(
            GradientBuckets.buckets(views: Self.convViews, bucketElements: 1).map(\.layers)
                == [["conv5"], ["conv4"], ["conv3"], ["conv2"], ["conv1"]])
        #expect(
            GradientBuckets.buckets(views: Self.convViews, bucketElements: 10_000_000).map(\.layers)
                == [["conv5", "conv4", "conv3", "conv2", "conv1"]])
    }

    /// A bucket's allreduce starts when backward has finished every one of its layers, not before, and the
    /// buckets go in order; `finish` sends what is left and leaves the sums in the arena's gradients. Seen
    /// through the bytes a metered communicator counts after each `finished` (Note [bytes sent]).
    @Test func aBucketIsSentOnceBackwardHasFinishedItsLayers() throws {
        let ranks = 2
        let outcomes = try InProcessCommunicator.run(size: ranks) { comm -> ([Int], [Int], Bool) in
            let meter = TrafficMeter()
            let metered = MeteredCommunicator(wrapping: comm, meter: meter, channel: "gradients")
            let arena = AlexNet.small.makeArena()
            for i in arena.gradients.indices { arena.gradients[i] = Float(comm.rank + 1) }
            let buckets = GradientBuckets(
                arena: arena, views: Self.convViews, bucketElements: 400_000, communicator: metered, codec: .none,
                overlap: false)
            var sentAfter: [Int] = []
            for layer in ["conv5", "conv4", "conv3", "conv2"] {
                buckets.finished(layer: layer)
                sentAfter.append(meter.snapshot["gradients"]?.total ?? 0)
            }
            try buckets.finish()
            sentAfter.append(meter.snapshot["gradients"]?.total ?? 0)
            let expected = buckets.buckets.map { bucket -> Int in
                let n = bucket.range.count, mine = segmentCounts(n, parts: ranks)[comm.rank]
                return 4 * ((n - mine) + mine * (ranks - 1))
            }
            let range = ParameterArena.range(of: Self.convViews)
            let summed = arena.gradients[range].allSatisfy { $0 == 3 }
            return (sentAfter, expected, summed)
        }
        for (sentAfter, bytes, summed) in outcomes {
            // Nothing after conv5 alone; bucket 0 after conv4; nothing more after conv3; bucket 1 after conv2;
            // bucket 2 (conv1) from finish.
            #expect(sentAfter == [0, bytes[0], bytes[0], bytes[0] + bytes[1], bytes[0] + bytes[1] + bytes[2]])
            #expect(summed, "every synchronised gradient is the sum over the ranks, 1 + 2")
        }
    }

    /// One rank has nothing to send: its gradients are already the step's.
    @Test func oneRankSendsNothing() throws {
        let meter = TrafficMeter()
        let arena = AlexNet.small.makeArena()
        for i in arena.gradients.indices { arena.gradients[i] = 0.5 }
        let buckets = GradientBuckets(
            arena: arena, views: Self.convViews, bucketElements: 400_000,
            communicator: MeteredCommunicator(wrapping: InProcessCommunicator.alone(), meter: meter, channel: "g"),
            codec: .none, overlap: true)
        for layer in ["conv5", "conv4", "conv3", "conv2", "conv1"] { buckets.finished(layer: layer) }
        try buckets.finish()
        #expect(meter.snapshot["g"] == nil)
        #expect(arena.gradients.allSatisfy { $0 == 0.5 })
    }
}
