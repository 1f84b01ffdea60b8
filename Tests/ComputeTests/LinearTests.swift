import Testing

@testable import Compute

func makeLinear(batch: Int, inFeatures: Int, outFeatures: Int, seed: UInt64) -> (Linear, ParameterArena) {
    let arena = ParameterArena(layout: [
        ("fc", "fc.weight", [outFeatures, inFeatures]), ("fc", "fc.bias", [outFeatures]),
    ])
    var random = TestRandom(seed)
    _ = arena.values.update(fromContentsOf: random.uniform(arena.count))
    let layer = Linear(
        name: "fc", batch: batch, weight: arena.view("fc.weight"), bias: arena.view("fc.bias"),
        arena: arena, stream: ComputeStream())
    return (layer, arena)
}

@Suite struct LinearTests {
    @Test func forwardMatchesMatrixProduct() {
        let (batch, inF, outF) = (3, 7, 5)
        let (fc, arena) = makeLinear(batch: batch, inFeatures: inF, outFeatures: outF, seed: 1)
        var random = TestRandom(2)
        let x = random.uniform(batch * inF)
        let y = fc.forward(Tensor(plain: [batch, inF], values: x), training: false).plainValues()
        let w = arena.values(of: arena.view("fc.weight")), b = arena.values(of: arena.view("fc.bias"))
        var expected: [Float] = []
        for n in 0..<batch {
            for o in 0..<outF {
                var s = Double(b[o])
                for i in 0..<inF { s += Double(w[o * inF + i]) * Double(x[n * inF + i]) }
                expected.append(Float(s))
            }
        }
        #expect(maxRelativeError(y, expected) < 1e-5)
    }

    @Test func gradientsMatchFiniteDifferences() {
        let (fc, arena) = makeLinear(batch: 3, inFeatures: 6, outFeatures: 4, seed: 3)
        var random = TestRandom(4)
        checkGradients(layer: fc, inputDims: [3, 6], input: random.uniform(18), arena: arena)
    }
}
