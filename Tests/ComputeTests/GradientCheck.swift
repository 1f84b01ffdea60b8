import Testing

@testable import Compute

/// Deterministic test data.
struct TestRandom {
    var rng: SplitMix64
    init(_ seed: UInt64) { rng = SplitMix64(seed: seed) }
    mutating func uniform(_ count: Int, _ range: ClosedRange<Float> = -1...1) -> [Float] {
        (0..<count).map { _ in Float.random(in: range, using: &rng) }
    }
    /// Values spaced at least `gap` apart in random order (no ties, for max-pooling).
    mutating func distinct(_ count: Int, gap: Float) -> [Float] {
        var values = (0..<count).map { Float($0) * gap - Float(count) * gap / 2 }
        values.shuffle(using: &rng)
        return values
    }
}

/// The largest |a − b| / (1 + |b|) over two arrays.
func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
}

/// Finite-difference check of one layer: with L = Σ r ⊙ layer(x) for a fixed random r, compares the
/// layer's backward pass with central differences for every input element and every parameter.
///
/// - Parameters:
///   - makeInput: fills a fresh plain input tensor (called before every evaluation, since some layers
///     work in place).
///   - arena: the arena holding the layer's parameters (nil for parameter-free layers).
func checkGradients(
    layer: Layer, inputDims: [Int], input: [Float], arena: ParameterArena?,
    epsilon: Float = 1e-2, tolerance: Float = 1e-2, seed: UInt64 = 7,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let stream = ComputeStream()
    var random = TestRandom(seed)
    let outputCount = layer.outputDims.reduce(1, *)
    let r = random.uniform(outputCount)

    func loss(_ x: [Float]) -> Double {
        let out = layer.forward(Tensor(plain: inputDims, values: x), training: true).plainValues(on: stream)
        return zip(out, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    // Analytic gradients.
    _ = layer.forward(Tensor(plain: inputDims, values: input), training: true)
    let gradInput = layer.backward(Tensor(plain: layer.outputDims, values: r))?.plainValues(on: stream)
    let gradParams = arena.map { Array($0.gradients) }

    if let gradInput {
        var numeric = [Float](repeating: 0, count: input.count)
        for i in input.indices {
            var x = input
            x[i] += epsilon
            let up = loss(x)
            x[i] = input[i] - epsilon
            let down = loss(x)
            numeric[i] = Float((up - down) / Double(2 * epsilon))
        }
        let error = maxRelativeError(gradInput, numeric)
        #expect(error < tolerance, "\(layer.name): input gradient error \(error)", sourceLocation: sourceLocation)
    }
    if let arena, let gradParams {
        for view in arena.views {
            var numeric = [Float](repeating: 0, count: view.count)
            for j in 0..<view.count {
                let i = view.offset + j
                let saved = arena.values[i]
                arena.values[i] = saved + epsilon
                let up = loss(input)
                arena.values[i] = saved - epsilon
                let down = loss(input)
                arena.values[i] = saved
                numeric[j] = Float((up - down) / Double(2 * epsilon))
            }
            let error = maxRelativeError(Array(gradParams[view.range]), numeric)
            #expect(
                error < tolerance, "\(layer.name): \(view.name) gradient error \(error)", sourceLocation: sourceLocation
            )
        }
    }
}
