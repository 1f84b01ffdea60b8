import Testing

@testable import Compute

@Suite struct FlattenTests {
    @Test func flattensInPyTorchOrderFromABlockedFormat() {
        // A conv output with 16 channels is in a blocked format; flatten must give (n, c·H·W + h·W + w).
        let g = Conv2DGeometry(batch: 2, inChannels: 16, height: 3, width: 3, outChannels: 16, kernel: 1)
        let (conv, arena) = makeConv(g, seed: 9)
        var random = TestRandom(10)
        let x = random.uniform(2 * 16 * 9)
        let y = conv.forward(Tensor(plain: [2, 16, 3, 3], values: x), training: true)
        let flatten = Flatten(input: y.desc, stream: ComputeStream())
        let flat = flatten.forward(y, training: true)
        #expect(flat.dims == [2, 144])
        let expected = naiveConv(
            x, g, weight: Array(arena.values(of: arena.view("conv.weight"))),
            bias: Array(arena.values(of: arena.view("conv.bias"))))
        #expect(maxRelativeError(Array(flat.floats.prefix(288)), expected) < 1e-5)
        let back = flatten.backward(flat)!
        #expect(back.dims == [2, 16, 3, 3])
    }
}
