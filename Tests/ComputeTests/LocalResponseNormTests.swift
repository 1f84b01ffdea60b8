import Foundation
import Testing

@testable import Compute

/// b[c] = a[c] / (k + α/n · Σ_{|j − c| ≤ n/2} a[j]²)^β
func naiveLRN(_ x: [Float], dims: [Int], _ p: LRNParameters) -> [Float] {
    let (n, c, hw) = (dims[0], dims[1], dims[2] * dims[3])
    var y = x
    for b in 0..<n {
        for ch in 0..<c {
            for s in 0..<hw {
                var sum = 0.0
                for j in max(0, ch - p.size / 2)...min(c - 1, ch + p.size / 2) {
                    let a = Double(x[(b * c + j) * hw + s])
                    sum += a * a
                }
                let i = (b * c + ch) * hw + s
                y[i] = Float(Double(x[i]) / pow(Double(p.k) + Double(p.alpha) / Double(p.size) * sum, Double(p.beta)))
            }
        }
    }
    return y
}

@Suite struct LocalResponseNormTests {
    // A large α makes the normalisation matter at these magnitudes (AlexNet's 1e-4 barely moves unit data).
    static let strong = LRNParameters(size: 5, alpha: 0.5, beta: 0.75, k: 2)

    @Test(arguments: [(LRNParameters.alexNet, [2, 7, 3, 3]), (strong, [2, 7, 3, 3]), (strong, [1, 32, 2, 3])])
    func forwardMatchesFormulaWithAlphaOverN(_ p: LRNParameters, _ dims: [Int]) {
        var random = TestRandom(3)
        let x = random.uniform(dims.reduce(1, *), -3...3)
        let lrn = LocalResponseNorm(name: "norm", parameters: p, input: MemoryDesc.plain(dims), stream: ComputeStream())
        let y = lrn.forward(Tensor(plain: dims, values: x), training: false).plainValues()
        #expect(maxRelativeError(y, naiveLRN(x, dims: dims, p)) < 1e-5)
    }

    @Test func gradientsMatchFiniteDifferences() {
        var random = TestRandom(4)
        let dims = [2, 7, 3, 3]
        let lrn = LocalResponseNorm(
            name: "norm", parameters: Self.strong, input: MemoryDesc.plain(dims), stream: ComputeStream())
        checkGradients(
            layer: lrn, inputDims: dims, input: random.uniform(dims.reduce(1, *), -2...2), arena: nil,
            epsilon: 1e-2, tolerance: 1e-2)
    }
}
