import Foundation

/// The cost model's parameters fitted to measurements: a link's α and β to allreduce timings, the load
/// parameters to the training points.
extension CostModel {
    /// Fits `seconds ≈ α · steps + bytes / β` by least squares to allreduce timings (alexnet-dist's own,
    /// codec none) of `elements` floats at one rank count, `steps` as `allReduceSteps` counts them. Nil
    /// without two sizes that tell the two terms apart.
    public static func fitLink(elements: [Int], bytesSent: [Double], seconds: [Double], ranks k: Int) -> LinkCost? {
        guard elements.count >= 2, k > 1 else { return nil }
        let steps = elements.map { allReduceSteps($0, ranks: k, compressed: false) }
        // Normal equations of seconds = α·s + γ·b (γ = 1/β).
        var ss = 0.0, sb = 0.0, bb = 0.0, sy = 0.0, by = 0.0
        for ((s, b), y) in zip(zip(steps, bytesSent), seconds) {
            ss += s * s
            sb += s * b
            bb += b * b
            sy += s * y
            by += b * y
        }
        let determinant = ss * bb - sb * sb
        guard determinant > 0 else { return nil }
        var alpha = (sy * bb - by * sb) / determinant
        var gamma = (ss * by - sb * sy) / determinant
        if alpha < 0 {  // latency too small to see: bandwidth alone
            alpha = 0
            gamma = by / bb
        }
        guard gamma > 0 else { return nil }
        return LinkCost(alpha: alpha, beta: 1 / gamma)
    }

    /// The load parameters (`alphaUnderLoad`, `backgroundBandwidthShare`, `networkSecondsPerByte`) that make
    /// the largest relative error of `predict` over `points` smallest: a coarse grid (α 0 … 30 ms, φ 0.3 … 1,
    /// γ 0 … 10 ns/byte), then a finer one around its best; returns them and that error.
    public static func fitLoad(
        _ points: [(predict: (Double, Double, Double) -> Double, measured: Double)]
    ) -> (
        alpha: Double, share: Double, secondsPerByte: Double, error: Double
    ) {
        var best = (alpha: 0.0, share: 1.0, secondsPerByte: 0.0, error: Double.infinity)
        func search(_ alphas: [Double], _ shares: [Double], _ costs: [Double]) {
            for a in alphas where a >= 0 {
                for s in shares where s > 0 && s <= 1 {
                    for g in costs where g >= 0 {
                        var worst = 0.0
                        for p in points {
                            worst = max(worst, abs(p.predict(a, s, g) - p.measured) / p.measured)
                            if worst >= best.error { break }
                        }
                        if worst < best.error { best = (a, s, g, worst) }
                    }
                }
            }
        }
        search(
            (0...30).map { Double($0) * 1e-3 }, (0...14).map { 0.3 + Double($0) * 0.05 },
            (0...20).map { Double($0) * 0.5e-9 })
        let (a, s, g) = (best.alpha, best.share, best.secondsPerByte)
        search(
            (-8...8).map { a + Double($0) * 1.25e-4 }, (-5...5).map { s + Double($0) * 0.01 },
            (-5...5).map { g + Double($0) * 0.1e-9 })
        return best
    }
}
