import Collectives
import Testing

@testable import Training

@Suite struct StepPhasesTests {
    func span(
        _ name: String, _ category: Timeline.Category, _ lane: String, _ start: Double, _ end: Double
    )
        -> Timeline.Span
    {
        Timeline.Span(name: name, category: category, lane: lane, start: start, end: end)
    }

    /// A hand-made step: compute spans with a collective nested inside the FC span, a wait, and transfers on
    /// other lanes partly overlapping the compute thread's blocked time.
    @Test func phasesSplitTheComputeThreadAndAddUpToTheStep() {
        let spans = [
            span("conv/conv1 forward", .compute, "compute", 0, 1),
            span("fc/round 0 forward", .compute, "compute", 1, 2),
            span("classifier allGather", .communication, "compute", 1.5, 1.75),  // inside the FC span
            span("wait gradients", .wait, "compute", 4, 5),
            span("conv/conv1 backward", .compute, "compute", 2, 4),
            span("update/conv", .compute, "compute", 5, 5.5),
            span("gradients allReduce", .communication, "buckets", 3, 4.5),  // 1 s overlapped, 0.5 s exposed
            span("encode bf16", .compression, "buckets", 2.5, 3),
            span("features allGather", .communication, "exchange", -1, 0.5),  // clipped to the step
        ]
        let p = StepPhases(spans: spans, from: 0, to: 6)
        #expect(p.stepSeconds == 6)
        #expect(p.convForward == 1)
        #expect(p.convBackward == 2)
        #expect(p.fullyConnected == 0.75)
        #expect(p.update == 0.5)
        #expect(p.communicationExposed == 1.25)
        // In flight: [0, 0.5] ∪ [1.5, 1.75] ∪ [3, 4.5] = 2.25 s, of which 0.25 + 0.5 blocked the compute thread.
        #expect(abs(p.communicationOverlapped - 1.5) < 1e-12)
        #expect(p.compression == 0.5)
        #expect(abs(p.other - 0.5) < 1e-12)
        #expect(
            abs(p.convForward + p.convBackward + p.fullyConnected + p.update + p.communicationExposed + p.other - 6)
                < 1e-12)
    }

    @Test func intervalsMergeAndIntersect() {
        let a = Intervals([(0, 1), (0.5, 2), (3, 4)])
        #expect(a.length == 3)
        #expect(a.overlap(with: Intervals([(1.5, 3.5)])) == 1)
        #expect(Intervals([]).length == 0)
    }

    @Test func theMeanAveragesEveryPhase() {
        var a = StepPhases(), b = StepPhases()
        a.stepSeconds = 2
        a.convForward = 1
        b.stepSeconds = 4
        b.compression = 2
        let m = StepPhases.mean([a, b])
        #expect(m.stepSeconds == 3)
        #expect(m.convForward == 0.5)
        #expect(m.compression == 1)
    }
}
