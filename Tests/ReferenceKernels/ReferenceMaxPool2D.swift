/// Max pooling over K×K windows with stride s and no padding (Note [reference kernels]). The maximum of
/// a window is its first largest element in row-major order, which is where the backward pass sends the
/// window's gradient (oneDNN and PyTorch break exact ties the same way):
///
///     y[n, c, p, q]  = x[winner(n, c, p, q)]       winner = the first arg-max of the window
///     dx[n, c, h, w] = Σ_{windows (p, q) whose winner is (h, w)} dy[n, c, p, q]
///
///     x, dx (N, C, H, W)   y, dy, winners (N, C, OH, OW)   OH = (H − K) / s + 1
public struct ReferenceMaxPool2D: Sendable {
    public let inputDims: [Int]
    public let kernel: Int
    public let stride: Int

    public init(inputDims: [Int], kernel: Int, stride: Int) {
        self.inputDims = inputDims
        self.kernel = kernel
        self.stride = stride
    }

    public var outputDims: [Int] {
        [inputDims[0], inputDims[1], (inputDims[2] - kernel) / stride + 1, (inputDims[3] - kernel) / stride + 1]
    }
    private var inShape: (Int, Int, Int, Int) { (inputDims[0], inputDims[1], inputDims[2], inputDims[3]) }
    private var outShape: (Int, Int, Int, Int) { (outputDims[0], outputDims[1], outputDims[2], outputDims[3]) }

    /// The input index of the first maximum of the window of output element `index`.
    public func winner(of x: [Double], at index: Int) -> Int {
        let (n, c, p, q) = coordinates4(index, outShape)
        var best = index4(n, c, p * stride, q * stride, inShape)
        for i in 0..<kernel {
            for j in 0..<kernel {
                let at = index4(n, c, p * stride + i, q * stride + j, inShape)
                if x[at] > x[best] { best = at }
            }
        }
        return best
    }

    /// Every output element's winner, (N, C, OH, OW).
    public func winners(of x: [Double]) -> [Int] { concurrentMap(outputDims.reduce(1, *)) { winner(of: x, at: $0) } }

    public func forward(x: [Double], at index: Int) -> Double { x[winner(of: x, at: index)] }

    /// dx at `index` of (N, C, H, W), given every window's winner.
    public func backward(winners: [Int], dy: [Double], at index: Int) -> Double {
        let (n, c, h, w) = coordinates4(index, inShape)
        var sum = 0.0
        for p in windows(covering: h, count: outShape.2) {
            for q in windows(covering: w, count: outShape.3) {
                let window = index4(n, c, p, q, outShape)
                if winners[window] == index { sum += dy[window] }
            }
        }
        return sum
    }

    /// The windows p < count whose rows p·s ..< p·s + K hold x.
    private func windows(covering x: Int, count: Int) -> Range<Int> {
        let lowest = max(0, ceilDivide(x - kernel + 1, stride)), highest = min(count - 1, floorDivide(x, stride))
        return lowest..<max(lowest, highest + 1)
    }
}
