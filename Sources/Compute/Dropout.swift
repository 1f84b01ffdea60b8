/// Inverted dropout: while training, each element is kept with probability 1 − p and scaled by
/// 1 / (1 − p); at test time the layer is the identity (equivalent to the paper's halving of outputs at
/// test time, without the test-time multiply).
///
///     input, output (N, F), plain
///
/// The mask is seeded and counter-based: whether element (row, column) is kept in training step `step`
/// is a pure function of (seed, layer name, step, row + rowOffset, column + columnOffset), so a rank
/// holding a slice of the batch or of the features draws exactly the mask one process would.
public final class Dropout: Layer {
    public let name: String
    public let probability: Float
    public let outputDesc: MemoryDesc
    /// The training step the next forward pass belongs to; set by the trainer before each step.
    public var step: UInt64 = 0
    /// Global index of this batch's first row and of this layer's first column (for sharded runs).
    public var rowOffset = 0
    public var columnOffset = 0
    /// When set (one entry per row), the global index of each row instead of `row + rowOffset`: a hybrid
    /// rank's mixed sub-batch holds examples of several ranks.
    public var rowIndices: [Int]?
    private let key: UInt64
    private let output: Tensor
    private let mask: Tensor
    private var lastWasTraining = false

    public init(name: String, probability: Float, input: MemoryDesc, seed: UInt64) {
        precondition(
            probability >= 0 && probability < 1, "\(name): dropout probability must be in [0, 1), got \(probability)")
        precondition(
            input.isPlain && input.dims.count == 2, "\(name): dropout works on plain (N, F) rows, got \(input.dims)")
        self.name = name
        self.probability = probability
        outputDesc = input
        key = mix64(seed ^ stableHash(name))
        output = Tensor(input)
        mask = Tensor(input)
    }

    public func forward(_ input: Tensor, training: Bool) -> Tensor {
        precondition(input.desc == outputDesc, "\(name): input is \(input.dims), expected \(outputDesc.dims)")
        lastWasTraining = training
        guard training && probability > 0 else { return input }
        let rows = outputDesc.dims[0], columns = outputDesc.dims[1]
        precondition(
            rowIndices == nil || rowIndices!.count == rows,
            "\(name): \(rowIndices?.count ?? 0) row indices for \(rows) rows")
        let scale = 1 / (1 - probability)
        // Keep when the top 24 random bits, as a fraction of 2²⁴, are ≥ p.
        let threshold = UInt64((Double(probability) * 16_777_216).rounded())
        let stepKey = mix64(key ^ mix64(step))
        let x = input.floats, y = output.floats, m = mask.floats
        for r in 0..<rows {
            let rowKey = mix64(stepKey ^ UInt64(rowIndices?[r] ?? r + rowOffset))
            let base = r * columns
            for c in 0..<columns {
                let bits = mix64(rowKey ^ UInt64(c + columnOffset)) >> 40
                let keep: Float = bits >= threshold ? scale : 0
                m[base + c] = keep
                y[base + c] = x[base + c] * keep
            }
        }
        return output
    }

    public func backward(_ gradOutput: Tensor) -> Tensor? {
        precondition(
            gradOutput.desc == outputDesc, "\(name): gradient is \(gradOutput.dims), expected \(outputDesc.dims)")
        guard lastWasTraining && probability > 0 else { return gradOutput }
        let dy = gradOutput.floats, m = mask.floats
        for i in 0..<dy.count { dy[i] *= m[i] }
        return gradOutput
    }
}
