import Compute
import Foundation

/// Local response normalisation across channels with α divided by n, as the layer documents
/// (Note [reference kernels]):
///
///     s[c]  = k + (α/n) Σ_{j ∈ W(c)} a[j]²          W(c): the n channels centred on c, clipped at the edges
///     b[c]  = a[c] · s[c]^−β
///     da[c] = db[c] · s[c]^−β − (2αβ/n) · a[c] · Σ_{j ∈ W(c)} db[j] · a[j] · s[j]^(−β−1)
///
///     a, b, da, db (N, C, H, W)
public struct ReferenceLocalResponseNorm: Sendable {
    public let dims: [Int]
    public let parameters: LRNParameters

    public init(dims: [Int], parameters: LRNParameters) {
        self.dims = dims
        self.parameters = parameters
    }

    private var shape: (Int, Int, Int, Int) { (dims[0], dims[1], dims[2], dims[3]) }

    private func window(_ c: Int) -> ClosedRange<Int> {
        let half = parameters.size / 2
        return max(0, c - half)...min(dims[1] - 1, c + half)
    }

    private func scale(_ a: [Double], _ n: Int, _ c: Int, _ h: Int, _ w: Int) -> Double {
        var sum = 0.0
        for j in window(c) {
            let value = a[index4(n, j, h, w, shape)]
            sum += value * value
        }
        return Double(parameters.k) + Double(parameters.alpha) / Double(parameters.size) * sum
    }

    public func forward(a: [Double], at index: Int) -> Double {
        let (n, c, h, w) = coordinates4(index, shape)
        return a[index] * Foundation.pow(scale(a, n, c, h, w), -Double(parameters.beta))
    }

    public func backward(a: [Double], db: [Double], at index: Int) -> Double {
        let (n, c, h, w) = coordinates4(index, shape)
        let beta = Double(parameters.beta)
        var sum = 0.0
        for j in window(c) {
            let at = index4(n, j, h, w, shape)
            sum += db[at] * a[at] * Foundation.pow(scale(a, n, j, h, w), -beta - 1)
        }
        let alphaOverN = Double(parameters.alpha) / Double(parameters.size)
        return db[index] * Foundation.pow(scale(a, n, c, h, w), -beta) - 2 * alphaOverN * beta * a[index] * sum
    }
}
