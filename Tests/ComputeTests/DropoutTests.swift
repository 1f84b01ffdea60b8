import Testing

@testable import Compute

@Suite struct DropoutTests {
    @Test func keepsAboutOneMinusPAndScalesSurvivors() {
        let dropout = Dropout(name: "drop6", probability: 0.5, input: MemoryDesc.plain([64, 256]), seed: 11)
        let x = Tensor(plain: [64, 256], values: Array(repeating: 1, count: 64 * 256))
        let y = dropout.forward(x, training: true).plainValues()
        let kept = y.filter { $0 != 0 }
        #expect(kept.allSatisfy { $0 == 2 })
        let fraction = Double(kept.count) / Double(y.count)
        #expect(abs(fraction - 0.5) < 0.02, "kept \(fraction)")
    }

    @Test func isIdentityAtTestTime() {
        let dropout = Dropout(name: "drop6", probability: 0.5, input: MemoryDesc.plain([4, 8]), seed: 11)
        var random = TestRandom(1)
        let x = Tensor(plain: [4, 8], values: random.uniform(32))
        #expect(dropout.forward(x, training: false) === x)
    }

    @Test func maskDependsOnSeedAndStepOnly() {
        func mask(seed: UInt64, step: UInt64) -> [Float] {
            let dropout = Dropout(name: "drop7", probability: 0.5, input: MemoryDesc.plain([8, 16]), seed: seed)
            dropout.step = step
            return dropout.forward(Tensor(plain: [8, 16], values: Array(repeating: 1, count: 128)), training: true)
                .plainValues()
        }
        #expect(mask(seed: 1, step: 3) == mask(seed: 1, step: 3))
        #expect(mask(seed: 1, step: 3) != mask(seed: 1, step: 4))
        #expect(mask(seed: 1, step: 3) != mask(seed: 2, step: 3))
    }

    @Test func aSliceDrawsTheSameMaskAsTheWhole() {
        // Rows 2..<5 and columns 4..<12 of an (8, 16) batch, drawn by a layer that holds only that slice.
        let whole = Dropout(name: "drop6", probability: 0.5, input: MemoryDesc.plain([8, 16]), seed: 5)
        let full = whole.forward(Tensor(plain: [8, 16], values: Array(repeating: 1, count: 128)), training: true)
            .plainValues()
        let part = Dropout(name: "drop6", probability: 0.5, input: MemoryDesc.plain([3, 8]), seed: 5)
        part.rowOffset = 2
        part.columnOffset = 4
        let slice = part.forward(Tensor(plain: [3, 8], values: Array(repeating: 1, count: 24)), training: true)
            .plainValues()
        let expected = (2..<5).flatMap { r in (4..<12).map { full[r * 16 + $0] } }
        #expect(slice == expected)
    }

    @Test func gradientsMatchFiniteDifferences() {
        // The mask is fixed by (seed, step), so every evaluation of the finite differences draws the same one.
        let dropout = Dropout(name: "drop6", probability: 0.4, input: MemoryDesc.plain([3, 7]), seed: 2)
        var random = TestRandom(5)
        checkGradients(layer: dropout, inputDims: [3, 7], input: random.uniform(21), arena: nil)
    }

    @Test func backwardAppliesTheForwardMask() {
        let dropout = Dropout(name: "drop6", probability: 0.3, input: MemoryDesc.plain([5, 9]), seed: 3)
        var random = TestRandom(4)
        let x = random.uniform(45)
        let y = dropout.forward(Tensor(plain: [5, 9], values: x), training: true).plainValues()
        let g = dropout.backward(Tensor(plain: [5, 9], values: Array(repeating: 1, count: 45)))!.plainValues()
        for i in 0..<45 { #expect(abs(y[i] - x[i] * g[i]) < 1e-6) }
    }
}
