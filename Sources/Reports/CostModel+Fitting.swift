import Foundation

/// The cost model's parameters fitted to measurements: a link's α and β to allreduce timings, the load
/// parameters to the training points.
extension CostModel {
    /// The load parameters: what the ranks lose when they share busy cores, fitted together to the measured
    /// points (`fitLoad`).
    public struct Load: Sendable, Equatable {
        /// Seconds added to every message step (a transfer thread, or the peer it waits for, is scheduled late).
        public var alphaUnderLoad: Double
        /// The share of a core, in (0, 1], the codec's work on a transfer thread gets over TCP while its own
        /// rank computes (it competes with the compute thread for the host's core).
        public var codecCoreShare: Double
        /// CPU seconds a rank's compute loses per gradient byte it sends over TCP while it computes (the kernel's
        /// network stack runs on the same cores; Note [stolen by overlapped transfers]).
        public var networkSecondsPerByte: Double
        /// CPU seconds a rank spends per byte it sends on shared memory when the cores are oversubscribed (the
        /// copies in and out and the sums: Note [oversubscribed cores]).
        public var sharedMemorySecondsPerByte: Double

        public init(
            alphaUnderLoad: Double, codecCoreShare: Double, networkSecondsPerByte: Double,
            sharedMemorySecondsPerByte: Double
        ) {
            self.alphaUnderLoad = alphaUnderLoad
            self.codecCoreShare = codecCoreShare
            self.networkSecondsPerByte = networkSecondsPerByte
            self.sharedMemorySecondsPerByte = sharedMemorySecondsPerByte
        }

        /// No load: nothing added, the codec on a whole core.
        public static let idle = Load(
            alphaUnderLoad: 0, codecCoreShare: 1, networkSecondsPerByte: 0, sharedMemorySecondsPerByte: 0)
    }

    /// Fits `seconds ≈ α · steps + bytes / β` to allreduce timings (alexnet-dist's own, codec none) of
    /// `elements` floats at one rank count, `steps` as `allReduceSteps` counts them, by least squares on the
    /// relative errors: the sizes span five decades (a 1 KB allreduce, all latency, pins α; 4–128 MB pin β),
    /// and on absolute errors the largest size alone would decide both. Nil without two sizes that tell the
    /// two terms apart.
    public static func fitLink(elements: [Int], bytesSent: [Double], seconds: [Double], ranks k: Int) -> LinkCost? {
        guard elements.count >= 2, k > 1 else { return nil }
        let steps = elements.map { allReduceSteps($0, ranks: k, compressed: false) }
        // Normal equations of 1 = α·s/y + γ·b/y (γ = 1/β): each timing weighted by 1/y², its own time squared.
        var ss = 0.0, sb = 0.0, bb = 0.0, sy = 0.0, by = 0.0
        for ((s, b), y) in zip(zip(steps, bytesSent), seconds) where y > 0 {
            let w = 1 / (y * y)
            ss += w * s * s
            sb += w * s * b
            bb += w * b * b
            sy += w * s * y
            by += w * b * y
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

    /// The load that makes the sum of the squared relative errors of `predict` over `points` smallest (least
    /// squares: the largest error alone would let the noisiest point decide every parameter): a coarse grid
    /// (α 0 … 30 ms, φ 0.3 … 1, γ 0 … 10 ns/byte, γ_shm 0 … 2 ns/byte), then a finer one around its best;
    /// returns it and its root-mean-square relative error.
    public static func fitLoad(_ points: [(predict: (Load) -> Double, measured: Double)]) -> (load: Load, rms: Double) {
        var best = (load: Load.idle, error: Double.infinity)
        func search(_ alphas: [Double], _ shares: [Double], _ network: [Double], _ sharedMemory: [Double]) {
            for a in alphas where a >= 0 {
                for s in shares where s > 0 && s <= 1 {
                    for g in network where g >= 0 {
                        for m in sharedMemory where m >= 0 {
                            let load = Load(
                                alphaUnderLoad: a, codecCoreShare: s, networkSecondsPerByte: g,
                                sharedMemorySecondsPerByte: m)
                            var squares = 0.0
                            for p in points {
                                let e = (p.predict(load) - p.measured) / p.measured
                                squares += e * e
                                if squares >= best.error { break }
                            }
                            if squares < best.error { best = (load, squares) }
                        }
                    }
                }
            }
        }
        search(
            (0...30).map { Double($0) * 1e-3 }, (0...14).map { 0.3 + Double($0) * 0.05 },
            (0...20).map { Double($0) * 0.5e-9 }, (0...10).map { Double($0) * 0.2e-9 })
        let coarse = best.load
        search(
            (-8...8).map { coarse.alphaUnderLoad + Double($0) * 1.25e-4 },
            (-5...5).map { coarse.codecCoreShare + Double($0) * 0.01 },
            (-5...5).map { coarse.networkSecondsPerByte + Double($0) * 0.1e-9 },
            (-4...4).map { coarse.sharedMemorySecondsPerByte + Double($0) * 0.05e-9 })
        return (best.load, (best.error / Double(max(1, points.count))).squareRoot())
    }
}
