import Testing

@testable import Compute

func naiveMaxPool(_ x: [Float], dims: [Int], kernel: Int, stride: Int) -> [Float] {
    let (n, c, h, w) = (dims[0], dims[1], dims[2], dims[3])
    let oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1
    var y: [Float] = []
    for plane in 0..<(n * c) {
        for oy in 0..<oh {
            for ox in 0..<ow {
                var m = -Float.infinity
                for i in 0..<kernel {
                    for j in 0..<kernel { m = max(m, x[(plane * h + oy * stride + i) * w + ox * stride + j]) }
                }
                y.append(m)
            }
        }
    }
    return y
}

@Suite struct MaxPool2DTests {
    @Test(arguments: [[2, 3, 7, 7], [1, 16, 13, 13], [2, 2, 6, 5]])
    func forwardMatchesOverlappingMax(_ dims: [Int]) {
        var random = TestRandom(5)
        let x = random.uniform(dims.reduce(1, *))
        let pool = MaxPool2D(name: "pool", kernel: 3, stride: 2, input: MemoryDesc.plain(dims), stream: ComputeStream())
        let y = pool.forward(Tensor(plain: dims, values: x), training: false)
        #expect(y.dims == [dims[0], dims[1], (dims[2] - 3) / 2 + 1, (dims[3] - 3) / 2 + 1])
        #expect(y.plainValues() == naiveMaxPool(x, dims: dims, kernel: 3, stride: 2))
    }

    @Test func gradientsMatchFiniteDifferences() {
        let dims = [2, 3, 7, 7]
        var random = TestRandom(6)
        // Distinct values 0.05 apart: the arg-max does not move under a ±0.01 step.
        let pool = MaxPool2D(name: "pool", kernel: 3, stride: 2, input: MemoryDesc.plain(dims), stream: ComputeStream())
        checkGradients(layer: pool, inputDims: dims, input: random.distinct(dims.reduce(1, *), gap: 0.05), arena: nil)
    }
}
