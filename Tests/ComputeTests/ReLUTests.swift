import Testing

@testable import Compute

@Suite struct ReLUTests {
    @Test func forwardIsMaxWithZero() {
        var random = TestRandom(1)
        let x = random.uniform(2 * 3 * 4 * 5)
        let relu = ReLU(name: "relu", input: MemoryDesc.plain([2, 3, 4, 5]), stream: ComputeStream())
        let y = relu.forward(Tensor(plain: [2, 3, 4, 5], values: x), training: false).plainValues()
        #expect(y == x.map { max($0, 0) })
    }

    @Test func gradientsMatchFiniteDifferences() {
        // Keep inputs away from the kink at 0 by more than the finite-difference step.
        var random = TestRandom(2)
        let x = random.uniform(2 * 3 * 4 * 4).map { $0 < 0 ? $0 - 0.05 : $0 + 0.05 }
        let relu = ReLU(name: "relu", input: MemoryDesc.plain([2, 3, 4, 4]), stream: ComputeStream())
        checkGradients(layer: relu, inputDims: [2, 3, 4, 4], input: x, arena: nil)
    }
}
