import ReferenceKernels

@testable import Compute

/// One training step of a network run layer by layer, with what each layer received copied out in plain
/// layout: its input on the way forward and the gradient of its output on the way back. What a layer
/// produced is what the next one received (`output(of:)`, `gradInput(of:)`), so nothing is stored twice.
struct NetworkTrace {
    struct Record {
        let layer: Layer
        let input: [Float]
        /// The gradient with respect to the output, as the layer received it.
        var gradOutput: [Float] = []
    }

    var records: [Record] = []
    var loss = 0.0
    var logits: [Float] = []
    var parameterGradients: [String: [Float]] = [:]

    /// Runs the step `network.computeGradients` runs on `network.input`, one layer at a time.
    init(network: Network, labels: [Int32], step: UInt64) {
        for case let dropout as Dropout in network.layers { dropout.step = step }
        let stream = network.stream
        var x = network.input
        for layer in network.layers {
            records.append(Record(layer: layer, input: x.plainValues()))
            x = layer.forward(x, training: true)
            stream.wait()
        }
        logits = x.plainValues()
        loss = network.loss.forward(logits: x, labels: labels)
        var g: Tensor? = network.loss.backward(scale: 1 / Float(network.batch))
        for i in records.indices.reversed() {
            guard let dy = g else { break }
            records[i].gradOutput = dy.plainValues()
            g = records[i].layer.backward(dy)
            stream.wait()
        }
        for view in network.arena.views { parameterGradients[view.name] = Array(network.arena.gradients(of: view)) }
    }

    /// Each dropout layer's multiplier per element (0 or 1 / (1 − p)) in `step` of a network built with
    /// `seed`: the layer's own counter-based draw, read back by passing ones through a twin.
    static func dropoutMasks(of network: Network, seed: UInt64, step: UInt64) -> [String: [Double]] {
        var masks: [String: [Double]] = [:]
        for case let dropout as Dropout in network.layers {
            let twin = Dropout(
                name: dropout.name, probability: dropout.probability, input: dropout.outputDesc, seed: seed)
            twin.step = step
            let ones = Tensor(
                plain: dropout.outputDims, values: Array(repeating: 1, count: dropout.outputDims.reduce(1, *)))
            masks[dropout.name] = twin.forward(ones, training: true).plainValues().map(Double.init)
        }
        return masks
    }

    /// What layer `i` returned from its forward pass.
    func output(of i: Int) -> [Float] { i + 1 < records.count ? records[i + 1].input : logits }

    /// What layer `i` returned from its backward pass (nil for the first layer, which computes none).
    func gradInput(of i: Int) -> [Float]? { i > 0 ? records[i - 1].gradOutput : nil }

    /// Each stage's input in the order of `model.features + model.classifier` (the flatten edge, which is
    /// no stage of the variant, left out), for `ReferenceStep(stageInputs:)`.
    var stageInputs: [[Float]] { records.filter { !($0.layer is Flatten) }.map(\.input) }
}
