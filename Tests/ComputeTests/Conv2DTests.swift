import Testing

@testable import Compute

/// Direct convolution, written out: out[n, o, y, x] = b[o] + Σ_{c ∈ group(o), i, j} w[o, c', i, j] · in[n, c, y·s + i − p, x·s + j − p].
func naiveConv(_ input: [Float], _ g: Conv2DGeometry, weight: [Float], bias: [Float]) -> [Float] {
    let (oh, ow) = (g.outHeight, g.outWidth)
    let cPerGroup = g.inChannels / g.groups, oPerGroup = g.outChannels / g.groups
    var out = [Float](repeating: 0, count: g.batch * g.outChannels * oh * ow)
    for n in 0..<g.batch {
        for o in 0..<g.outChannels {
            let group = o / oPerGroup
            for y in 0..<oh {
                for x in 0..<ow {
                    var sum = Double(bias[o])
                    for cg in 0..<cPerGroup {
                        let c = group * cPerGroup + cg
                        for i in 0..<g.kernel {
                            for j in 0..<g.kernel {
                                let iy = y * g.stride + i - g.padding, ix = x * g.stride + j - g.padding
                                guard iy >= 0, iy < g.height, ix >= 0, ix < g.width else { continue }
                                let w = weight[((o * cPerGroup + cg) * g.kernel + i) * g.kernel + j]
                                sum +=
                                    Double(w) * Double(input[((n * g.inChannels + c) * g.height + iy) * g.width + ix])
                            }
                        }
                    }
                    out[((n * g.outChannels + o) * oh + y) * ow + x] = Float(sum)
                }
            }
        }
    }
    return out
}

func makeConv(_ g: Conv2DGeometry, seed: UInt64, inputGradient: Bool = true) -> (Conv2D, ParameterArena) {
    let arena = ParameterArena(layout: [("conv", "conv.weight", g.weightShape), ("conv", "conv.bias", [g.outChannels])])
    var random = TestRandom(seed)
    _ = arena.values(of: arena.view("conv.weight")).update(
        fromContentsOf: random.uniform(arena.view("conv.weight").count))
    _ = arena.values(of: arena.view("conv.bias")).update(fromContentsOf: random.uniform(g.outChannels))
    let conv = Conv2D(
        name: "conv", geometry: g, weight: arena.view("conv.weight"), bias: arena.view("conv.bias"),
        arena: arena, stream: ComputeStream(), computeInputGradient: inputGradient)
    return (conv, arena)
}

@Suite struct Conv2DTests {
    static let geometries: [Conv2DGeometry] = [
        Conv2DGeometry(batch: 2, inChannels: 3, height: 9, width: 9, outChannels: 4, kernel: 3, stride: 2, padding: 1),
        Conv2DGeometry(
            batch: 1, inChannels: 4, height: 7, width: 6, outChannels: 6, kernel: 5, stride: 1, padding: 2, groups: 2),
        Conv2DGeometry(
            batch: 3, inChannels: 2, height: 11, width: 11, outChannels: 3, kernel: 11, stride: 4, padding: 2),
        // owt's conv1 shape (3 channels, 11×11, stride 4, padding 2): oneDNN writes plain NCHW and the layer
        // reorders it to a blocked layout for the layers after it.
        Conv2DGeometry(
            batch: 2, inChannels: 3, height: 23, width: 23, outChannels: 16, kernel: 11, stride: 4, padding: 2),
        // Large enough channel counts for oneDNN's blocked formats.
        Conv2DGeometry(
            batch: 2, inChannels: 16, height: 5, width: 5, outChannels: 32, kernel: 3, stride: 1, padding: 1),
    ]

    @Test(arguments: geometries)
    func forwardMatchesDirectConvolution(_ g: Conv2DGeometry) {
        let (conv, arena) = makeConv(g, seed: 1)
        var random = TestRandom(2)
        let x = random.uniform(g.batch * g.inChannels * g.height * g.width)
        let y = conv.forward(Tensor(plain: [g.batch, g.inChannels, g.height, g.width], values: x), training: false)
        #expect(y.dims == [g.batch, g.outChannels, g.outHeight, g.outWidth])
        let expected = naiveConv(
            x, g, weight: Array(arena.values(of: arena.view("conv.weight"))),
            bias: Array(arena.values(of: arena.view("conv.bias"))))
        #expect(maxRelativeError(y.plainValues(), expected) < 1e-5)
    }

    @Test(arguments: geometries.prefix(4))
    func gradientsMatchFiniteDifferences(_ g: Conv2DGeometry) {
        let (conv, arena) = makeConv(g, seed: 3)
        var random = TestRandom(4)
        checkGradients(
            layer: conv, inputDims: [g.batch, g.inChannels, g.height, g.width],
            input: random.uniform(g.batch * g.inChannels * g.height * g.width), arena: arena)
    }

    @Test func firstLayerSkipsInputGradient() {
        let g = Conv2DTests.geometries[0]
        let (conv, _) = makeConv(g, seed: 5, inputGradient: false)
        _ = conv.forward(Tensor(plain: [g.batch, g.inChannels, g.height, g.width]), training: true)
        #expect(conv.backward(Tensor(plain: [g.batch, g.outChannels, g.outHeight, g.outWidth])) == nil)
    }
}
