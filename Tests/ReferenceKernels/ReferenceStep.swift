import Compute

/// One training step of an AlexNet variant computed from the reference kernels alone, in `Double`
/// throughout (Note [reference kernels]): the forward pass, the softmax cross-entropy and the gradient of
/// every parameter. It shares nothing with the oneDNN layers but the variant's stage list, the dropout
/// masks and, when asked to, the decisions at ties (Note [decisions at ties]).
///
/// Note [decisions at ties]: ReLU (is x > 0?) and max pooling (which element is the window's maximum?)
/// make discrete decisions, and the gradient jumps where a decision changes. Two correct float32
/// implementations whose sums round differently decide differently wherever the exact values are tied or
/// within rounding of a tie, and then their gradients differ by whole routed terms: on Fashion-MNIST, whose
/// uniform backgrounds make ~9% of pool1's windows exact ties, one SGD step of `small` differs by up to
/// 2.6e-3 (relative, per tensor) between any two of oneDNN on AVX2, oneDNN on AVX-512, PyTorch and the
/// float64 reference, depending on the batch (docs/NOTES.md, issue 22). So a whole-step comparison follows
/// the implementation under test at those decisions only: where its decision differs from the reference's
/// own, the reference checks that the two candidates lie within `tieMargin` (relative to the largest value
/// of the tensor) and then takes the implementation's choice. A decision that differs by more is reported
/// in `decisions` and fails the comparison; every other decision and every value is the reference's own.
public struct ReferenceStep {
    /// Σ_n loss_n over the batch (the network's `computeGradients` returns the same sum).
    public let loss: Double
    /// The logits (N, classes).
    public let logits: ReferenceTensor
    /// Parameter name (`conv1.weight`, …) → the gradient of the mean loss, in the arena's layout.
    public let gradients: [String: [Double]]
    /// Per ReLU and pooling stage, the decisions taken from the implementation under test.
    public let decisions: [DecisionReport]

    /// The decisions of one stage where the implementation under test and the reference differed.
    public struct DecisionReport: Sendable, CustomStringConvertible {
        public let stage: String
        /// Decisions the stage made (elements for ReLU, windows for pooling).
        public let total: Int
        /// How many of them the implementation made otherwise.
        public var differing = 0
        /// The largest gap between the two candidates of a differing decision, relative to the largest
        /// magnitude in the stage's input.
        public var largestMargin = 0.0
        /// Differing decisions whose margin exceeds the tie margin: not a rounding effect.
        public var beyondTies = 0

        public var description: String {
            "\(stage): \(differing) of \(total) decisions followed, largest margin \(largestMargin)"
                + (beyondTies > 0 ? ", \(beyondTies) beyond the tie margin" : "")
        }
    }

    /// - Parameters:
    ///   - parameters: every parameter of the variant by name, in the arena's layout.
    ///   - input: the batch (N, C, H, W).
    ///   - dropoutMasks: each dropout layer's multiplier per element (0 or 1 / (1 − p)), (N, F).
    ///   - stageInputs: when given, each stage's input as the implementation under test computed it
    ///     (plain, in the order of `model.features + model.classifier`), whose decisions are followed at
    ///     ties (Note [decisions at ties]).
    ///   - tieMargin: how far apart two candidates may lie, relative to the largest input magnitude, for a
    ///     differing decision to count as a tie.
    public init(
        model: AlexNet, parameters: [String: [Double]], input: ReferenceTensor, labels: [Int32],
        dropoutMasks: [String: [Double]], stageInputs: [[Float]]? = nil, tieMargin: Double = 1e-5
    ) {
        let batch = input.dims[0]
        let stages = model.features + model.classifier
        precondition(stageInputs == nil || stageInputs!.count == stages.count, "reference: one input per stage")
        var x = input
        var inputs: [ReferenceTensor] = []
        var outputs: [ReferenceTensor] = []
        var kept: [Int: [Bool]] = [:]
        var winners: [Int: [Int]] = [:]
        var decisions: [DecisionReport] = []
        for (s, stage) in stages.enumerated() {
            inputs.append(x)
            let source = x.values
            switch stage {
            case .conv(let name, let out, let k, let st, let p, let g):
                let conv = ReferenceConv2D(ReferenceStep.geometry(x.dims, out, k, st, p, g))
                let w = parameters["\(name).weight"]!, b = parameters["\(name).bias"]!
                x = .computed(conv.outputDims) { conv.forward(x: source, w: w, b: b, at: $0) }
            case .relu(let name):
                var keep = source.map { $0 > 0 }
                if let theirs = stageInputs?[s] {
                    var report = DecisionReport(stage: name, total: keep.count)
                    let scale = source.lazy.map(abs).max() ?? 0
                    for e in keep.indices where (theirs[e] > 0) != keep[e] {
                        report.record(margin: abs(source[e]) / scale, tieMargin: tieMargin)
                        keep[e].toggle()
                    }
                    decisions.append(report)
                }
                kept[s] = keep
                let decided = keep
                x = .computed(x.dims) { decided[$0] ? source[$0] : 0 }
            case .lrn(_, let parameters):
                let lrn = ReferenceLocalResponseNorm(dims: x.dims, parameters: parameters)
                x = .computed(x.dims) { lrn.forward(a: source, at: $0) }
            case .maxPool(let name, let k, let st):
                let pool = ReferenceMaxPool2D(inputDims: x.dims, kernel: k, stride: st)
                var chosen = pool.winners(of: source)
                if let theirs = stageInputs?[s] {
                    var report = DecisionReport(stage: name, total: chosen.count)
                    let scale = source.lazy.map(abs).max() ?? 0
                    for (window, their) in pool.winners(of: doubles(theirs)).enumerated() where their != chosen[window]
                    {
                        report.record(margin: abs(source[chosen[window]] - source[their]) / scale, tieMargin: tieMargin)
                        chosen[window] = their
                    }
                    decisions.append(report)
                }
                winners[s] = chosen
                let decided = chosen
                x = .computed(pool.outputDims) { source[decided[$0]] }
            case .linear(let name, let out):
                if x.dims.count != 2 { x = x.reshaped([batch, x.count / batch]) }
                inputs[s] = x
                let linear = ReferenceLinear(batch: batch, inFeatures: x.dims[1], outFeatures: out)
                let w = parameters["\(name).weight"]!, b = parameters["\(name).bias"]!, rows = x.values
                x = .computed([batch, out]) { linear.forward(x: rows, w: w, b: b, at: $0) }
            case .dropout(let name, _):
                let mask = dropoutMasks[name]!
                precondition(
                    mask.count == x.count, "reference: \(name)'s mask has \(mask.count) of \(x.count) elements")
                x = .computed(x.dims) { source[$0] * mask[$0] }
            }
            outputs.append(x)
        }
        logits = x
        loss = ReferenceSoftmaxCrossEntropy.loss(z: x, labels: labels)
        var dy = ReferenceSoftmaxCrossEntropy.gradient(z: x, labels: labels, scale: 1 / Double(batch))
        var gradients: [String: [Double]] = [:]
        for (s, stage) in stages.enumerated().reversed() {
            let a = inputs[s].values, dyValues = dy.values, inputDims = inputs[s].dims
            switch stage {
            case .conv(let name, let out, let k, let st, let p, let g):
                let conv = ReferenceConv2D(ReferenceStep.geometry(inputDims, out, k, st, p, g))
                let w = parameters["\(name).weight"]!
                gradients["\(name).weight"] = concurrentMap(w.count) {
                    conv.backwardWeights(x: a, dy: dyValues, at: $0)
                }
                gradients["\(name).bias"] = concurrentMap(out) { conv.backwardBias(dy: dyValues, at: $0) }
                if s > 0 { dy = .computed(inputDims) { conv.backwardData(dy: dyValues, w: w, at: $0) } }
            case .relu:
                let keep = kept[s]!
                dy = .computed(inputDims) { keep[$0] ? dyValues[$0] : 0 }
            case .lrn(_, let parameters):
                let lrn = ReferenceLocalResponseNorm(dims: inputDims, parameters: parameters)
                dy = .computed(inputDims) { lrn.backward(a: a, db: dyValues, at: $0) }
            case .maxPool(_, let k, let st):
                let pool = ReferenceMaxPool2D(inputDims: inputDims, kernel: k, stride: st), chosen = winners[s]!
                dy = .computed(inputDims) { pool.backward(winners: chosen, dy: dyValues, at: $0) }
            case .linear(let name, let out):
                let linear = ReferenceLinear(batch: batch, inFeatures: inputDims[1], outFeatures: out)
                let w = parameters["\(name).weight"]!
                gradients["\(name).weight"] = concurrentMap(w.count) {
                    linear.backwardWeights(x: a, dy: dyValues, at: $0)
                }
                gradients["\(name).bias"] = concurrentMap(out) { linear.backwardBias(dy: dyValues, at: $0) }
                dy = .computed(inputDims) { linear.backwardData(dy: dyValues, w: w, at: $0) }
                // Back across the flatten edge after the convolutional stage.
                if s > 0 && outputs[s - 1].dims != inputDims { dy = dy.reshaped(outputs[s - 1].dims) }
            case .dropout(let name, _):
                let mask = dropoutMasks[name]!
                dy = .computed(inputDims) { dyValues[$0] * mask[$0] }
            }
        }
        self.gradients = gradients
        self.decisions = decisions
    }

    static func geometry(_ dims: [Int], _ out: Int, _ k: Int, _ s: Int, _ p: Int, _ g: Int) -> Conv2DGeometry {
        Conv2DGeometry(
            batch: dims[0], inChannels: dims[1], height: dims[2], width: dims[3], outChannels: out, kernel: k,
            stride: s, padding: p, groups: g)
    }
}

extension ReferenceStep.DecisionReport {
    mutating func record(margin: Double, tieMargin: Double) {
        differing += 1
        largestMargin = max(largestMargin, margin)
        if !(margin <= tieMargin) { beyondTies += 1 }
    }
}
