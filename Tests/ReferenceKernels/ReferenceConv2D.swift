import Compute

/// 2-D convolution (stride, symmetric zero padding, groups) as its definition (Note [reference kernels]):
///
///     y[n, o, p, q]  = b[o] + Σ_{c' < C/G, i, j} w[o, c', i, j] · x[n, g(o)·C/G + c', p·s + i − pad, q·s + j − pad]
///     dx[n, c, h, v] = Σ_{o ∈ group(c), i, j : (h + pad − i) / s = p, (v + pad − j) / s = q exact} w[o, c', i, j] · dy[n, o, p, q]
///     dw[o, c', i, j] = Σ_{n, p, q} dy[n, o, p, q] · x[n, g(o)·C/G + c', p·s + i − pad, q·s + j − pad]
///     db[o]          = Σ_{n, p, q} dy[n, o, p, q]
///
///     x (N, C, H, W)   w (O, C/G, K, K)   b (O)   y, dy (N, O, OH, OW)
public struct ReferenceConv2D: Sendable {
    public let geometry: Conv2DGeometry

    public init(_ geometry: Conv2DGeometry) { self.geometry = geometry }

    public var inputDims: [Int] { [geometry.batch, geometry.inChannels, geometry.height, geometry.width] }
    public var outputDims: [Int] { [geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth] }

    private var inShape: (Int, Int, Int, Int) { (geometry.batch, geometry.inChannels, geometry.height, geometry.width) }
    private var outShape: (Int, Int, Int, Int) {
        (geometry.batch, geometry.outChannels, geometry.outHeight, geometry.outWidth)
    }
    private var weightShape: (Int, Int, Int, Int) {
        (geometry.outChannels, geometry.inChannels / geometry.groups, geometry.kernel, geometry.kernel)
    }

    /// y at row-major index `index` of (N, O, OH, OW).
    public func forward(x: [Double], w: [Double], b: [Double], at index: Int) -> Double {
        let g = geometry, (xs, ws) = (inShape, weightShape), (n, o, p, q) = coordinates4(index, outShape)
        let perGroup = g.inChannels / g.groups, first = (o / (g.outChannels / g.groups)) * perGroup
        // The taps (i, j) that land inside the input.
        let rows = taps(output: p, limit: g.height), columns = taps(output: q, limit: g.width)
        var sum = b[o]
        for c in 0..<perGroup {
            for i in rows {
                let wRow = index4(o, c, i, 0, ws), xRow = index4(n, first + c, p * g.stride + i - g.padding, 0, xs)
                for j in columns { sum += w[wRow + j] * x[xRow + q * g.stride + j - g.padding] }
            }
        }
        return sum
    }

    /// dx at row-major index `index` of (N, C, H, W).
    public func backwardData(dy: [Double], w: [Double], at index: Int) -> Double {
        let g = geometry, (ys, ws) = (outShape, weightShape), (n, c, h, v) = coordinates4(index, inShape)
        let perGroup = g.inChannels / g.groups, outPerGroup = g.outChannels / g.groups
        let group = c / perGroup, cInGroup = c % perGroup
        // The outputs (p, q) whose window covers (h, v), through tap (h + pad − p·s, v + pad − q·s).
        let rows = outputs(covering: h, count: g.outHeight), columns = outputs(covering: v, count: g.outWidth)
        var sum = 0.0
        for o in (group * outPerGroup)..<((group + 1) * outPerGroup) {
            for p in rows {
                let wRow = index4(o, cInGroup, h + g.padding - p * g.stride, 0, ws)
                let dyRow = index4(n, o, p, 0, ys)
                for q in columns { sum += w[wRow + v + g.padding - q * g.stride] * dy[dyRow + q] }
            }
        }
        return sum
    }

    /// dw at row-major index `index` of (O, C/G, K, K).
    public func backwardWeights(x: [Double], dy: [Double], at index: Int) -> Double {
        let g = geometry, (xs, ys) = (inShape, outShape), (o, c, i, j) = coordinates4(index, weightShape)
        let first = (o / (g.outChannels / g.groups)) * (g.inChannels / g.groups)
        // The outputs (p, q) whose tap (i, j) lands inside the input.
        let rows = outputs(reaching: i, limit: g.height, count: g.outHeight)
        let columns = outputs(reaching: j, limit: g.width, count: g.outWidth)
        var sum = 0.0
        for n in 0..<g.batch {
            for p in rows {
                let dyRow = index4(n, o, p, 0, ys)
                let xRow = index4(n, first + c, p * g.stride + i - g.padding, 0, xs)
                for q in columns { sum += dy[dyRow + q] * x[xRow + q * g.stride + j - g.padding] }
            }
        }
        return sum
    }

    /// Taps t < K with output · s + t − pad inside 0 ..< limit.
    private func taps(output: Int, limit: Int) -> Range<Int> {
        let g = geometry, offset = output * g.stride - g.padding
        return max(0, -offset)..<max(0, min(g.kernel, limit - offset))
    }

    /// Outputs p < count whose window covers input position x: 0 ≤ x + pad − p·s < K.
    private func outputs(covering x: Int, count: Int) -> Range<Int> {
        let g = geometry, reach = x + g.padding
        let lowest = max(0, ceilDivide(reach - g.kernel + 1, g.stride)),
            highest = min(count - 1, floorDivide(reach, g.stride))
        return lowest..<max(lowest, highest + 1)
    }

    /// Outputs p < count with p·s + tap − pad inside 0 ..< limit.
    private func outputs(reaching tap: Int, limit: Int, count: Int) -> Range<Int> {
        let g = geometry, offset = tap - g.padding
        let lowest = max(0, ceilDivide(-offset, g.stride)), end = min(count, ceilDivide(limit - offset, g.stride))
        return lowest..<max(lowest, end)
    }

    /// db[o].
    public func backwardBias(dy: [Double], at o: Int) -> Double {
        let g = geometry
        var sum = 0.0
        for n in 0..<g.batch {
            for p in 0..<g.outHeight {
                for q in 0..<g.outWidth { sum += dy[index4(n, o, p, q, outShape)] }
            }
        }
        return sum
    }
}
