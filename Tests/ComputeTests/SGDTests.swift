import Testing

@testable import Compute

@Suite struct SGDTests {
    @Test func updateFollowsThePapersForm() {
        let arena = ParameterArena(layout: [("l", "l.weight", [3])])
        _ = arena.values.update(fromContentsOf: [1, -2, 0.5] + Array(repeating: 0, count: arena.count - 3))
        let sgd = SGD(arena: arena, momentum: 0.9, weightDecay: 0.0005)
        var w: [Float] = [1, -2, 0.5], v: [Float] = [0, 0, 0]
        for (step, g) in [[0.1, 0.2, -0.3], [0.05, -0.1, 0.2]].enumerated() {
            let grads = g.map { Float($0) }
            _ = arena.gradients.update(fromContentsOf: grads + Array(repeating: 0, count: arena.count - 3))
            let lr: Float = step == 0 ? 0.01 : 0.001
            sgd.step(learningRate: lr)
            for i in 0..<3 {
                v[i] = 0.9 * v[i] - 0.0005 * lr * w[i] - lr * grads[i]
                w[i] += v[i]
            }
            #expect(Array(arena.values.prefix(3)) == w)
            #expect(Array(sgd.velocity.prefix(3)) == v)
        }
    }

    @Test func updatesOnlyTheGivenRange() {
        let arena = ParameterArena(layout: [("a", "a.weight", [16]), ("b", "b.weight", [16])])
        arena.values.update(repeating: 1)
        arena.gradients.update(repeating: 1)
        SGD(arena: arena).step(learningRate: 0.1, range: arena.view("b.weight").range)
        #expect(arena.values(of: arena.view("a.weight")).allSatisfy { $0 == 1 })
        #expect(arena.values(of: arena.view("b.weight")).allSatisfy { $0 < 1 })
    }
}

@Suite struct LearningRateScheduleTests {
    @Test func stepDividesAtMilestones() {
        let s = LearningRateScheduler(base: 0.01, schedule: .step(milestones: [2, 4], factor: 10))
        let expected: [Float] = [0.01, 0.01, 0.001, 0.001, 0.0001, 0.0001]
        for epoch in 0..<6 { #expect(abs(s.rate(epoch: epoch) / expected[epoch] - 1) < 1e-6, "epoch \(epoch)") }
    }

    @Test func plateauDividesWhenValidationStallsAtMostThreeTimes() {
        var s = LearningRateScheduler(base: 1, schedule: .plateau(patience: 2, factor: 10, maxDecays: 3))
        let errors = [0.5, 0.4, 0.41, 0.42, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39, 0.39]
        var decayedAt: [Int] = []
        for (i, e) in errors.enumerated() where s.observe(validationError: e) { decayedAt.append(i) }
        #expect(decayedAt == [3, 6, 8])
        #expect(s.rate(epoch: 0) == 0.001)
    }
}
