/// How parameters are drawn before training. Every tensor is drawn from its own generator, seeded with
/// the run's seed and the tensor's name, so the result does not depend on layer order or rank count.
public enum Initialization: String, CaseIterable, Sendable {
    /// Krizhevsky et al. 2012: weights N(0, 0.01²); biases 1 in conv2, conv4, conv5, fc6 and fc7, 0 elsewhere.
    case paper
    /// As `paper`, with biases 0.1 where the paper has 1 (Caffe's `bvlc_alexnet`, which found biases of 1
    /// gave a flat loss).
    case caffe
    /// He et al. 2015: weights N(0, 2 / fan-in) for layers followed by ReLU and N(0, 1 / fan-in) for the
    /// last layer; biases 0. Fan-in is (input channels / groups) · K² for convolutions and the input width
    /// for linear layers.
    case he

    /// The layers whose biases the paper sets to 1.
    static let positiveBiasLayers: Set<String> = ["conv2", "conv4", "conv5", "fc6", "fc7"]

    /// Draws every parameter of `arena` (laid out for `model`).
    public func apply(to arena: ParameterArena, model: AlexNet, seed: UInt64) {
        let lastLayer = model.parameterLayers.last
        for view in arena.views {
            let values = arena.values(of: view)
            if view.isBias {
                let bias: Float
                switch self {
                case .paper: bias = Initialization.positiveBiasLayers.contains(view.layer) ? 1 : 0
                case .caffe: bias = Initialization.positiveBiasLayers.contains(view.layer) ? 0.1 : 0
                case .he: bias = 0
                }
                values.update(repeating: bias)
                continue
            }
            let std: Double
            switch self {
            case .paper, .caffe:
                std = 0.01
            case .he:
                let fanIn = view.shape.dropFirst().reduce(1, *)
                std = ((view.layer == lastLayer ? 1.0 : 2.0) / Double(fanIn)).squareRoot()
            }
            var rng = SplitMix64(seed: seed ^ stableHash(view.name))
            for i in values.indices { values[i] = Float(rng.nextNormal() * std) }
        }
    }
}
