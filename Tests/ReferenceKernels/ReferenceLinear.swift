/// A fully connected layer (Note [reference kernels]):
///
///     y[n, o]  = b[o] + Σ_i x[n, i] · w[o, i]
///     dx[n, i] = Σ_o dy[n, o] · w[o, i]
///     dw[o, i] = Σ_n dy[n, o] · x[n, i]
///     db[o]    = Σ_n dy[n, o]
///
///     x, dx (N, I)   w (O, I)   b (O)   y, dy (N, O)
public struct ReferenceLinear: Sendable {
    public let batch: Int
    public let inFeatures: Int
    public let outFeatures: Int

    public init(batch: Int, inFeatures: Int, outFeatures: Int) {
        self.batch = batch
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
    }

    public func forward(x: [Double], w: [Double], b: [Double], at index: Int) -> Double {
        let n = index / outFeatures, o = index % outFeatures
        var sum = b[o]
        for i in 0..<inFeatures { sum += x[n * inFeatures + i] * w[o * inFeatures + i] }
        return sum
    }

    public func backwardData(dy: [Double], w: [Double], at index: Int) -> Double {
        let n = index / inFeatures, i = index % inFeatures
        var sum = 0.0
        for o in 0..<outFeatures { sum += dy[n * outFeatures + o] * w[o * inFeatures + i] }
        return sum
    }

    public func backwardWeights(x: [Double], dy: [Double], at index: Int) -> Double {
        let o = index / inFeatures, i = index % inFeatures
        var sum = 0.0
        for n in 0..<batch { sum += dy[n * outFeatures + o] * x[n * inFeatures + i] }
        return sum
    }

    public func backwardBias(dy: [Double], at o: Int) -> Double {
        var sum = 0.0
        for n in 0..<batch { sum += dy[n * outFeatures + o] }
        return sum
    }
}
