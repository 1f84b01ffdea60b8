import Foundation

/// Softmax cross-entropy against integer labels (Note [reference kernels]):
///
///     loss_n     = log Σ_c exp(z[n, c] − m_n) + m_n − z[n, y_n]      m_n = max_c z[n, c]
///     dz[n, c]   = scale · (exp(z[n, c] − m_n) / Σ_c' exp(z[n, c'] − m_n) − [c = y_n])
///
///     z, dz (N, C)   labels (N)
public enum ReferenceSoftmaxCrossEntropy {
    /// Σ_n loss_n.
    public static func loss(z: ReferenceTensor, labels: [Int32]) -> Double {
        let classes = z.dims[1]
        var total = 0.0
        for (n, label) in labels.enumerated() {
            let row = Array(z.values[(n * classes)..<((n + 1) * classes)])
            let m = row.max()!
            total += Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) }) + m - row[Int(label)]
        }
        return total
    }

    public static func gradient(z: ReferenceTensor, labels: [Int32], scale: Double) -> ReferenceTensor {
        let classes = z.dims[1]
        var dz = z
        for (n, label) in labels.enumerated() {
            let row = Array(z.values[(n * classes)..<((n + 1) * classes)])
            let m = row.max()!
            let sum = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            for c in 0..<classes {
                dz.values[n * classes + c] = scale * (Foundation.exp(row[c] - m) / sum - (c == Int(label) ? 1 : 0))
            }
        }
        return dz
    }
}
