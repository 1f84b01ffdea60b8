import Foundation
import Timing

/// An AlexNet variant's layers built for one batch size over a parameter arena.
///
///     input      (N, C, H, W), plain; fill `input.floats` before `forward`
///     features   conv stage + flatten → (N, F)
///     classifier FC stage → logits (N, classes)
///
/// Several networks (for example a training batch size and a smaller last evaluation batch) may share
/// one arena; each has its own buffers and stream. A network must be used from one thread at a time.
public final class Network {
    public let model: AlexNet
    public let arena: ParameterArena
    public let batch: Int
    public let stream: ComputeStream
    public let input: Tensor
    public let features: [Layer]
    public let classifier: [Layer]
    public let loss: SoftmaxCrossEntropy
    private let dropouts: [Dropout]

    /// Wall time per layer (same order as `layers`), accumulated while `profiling` is on.
    public var profiling = false
    /// Called after each layer's forward (`backward` false) or backward pass with its start and end
    /// (`monotonicSeconds()`): a trainer's timeline hook.
    public var layerObserver: ((_ layer: Layer, _ backward: Bool, _ start: Double, _ end: Double) -> Void)?
    public private(set) var forwardSeconds: [Double]
    public private(set) var backwardSeconds: [Double]

    /// - Parameters:
    ///   - seed: the run's seed; dropout masks derive from it.
    ///   - includesClassifier: false builds the convolutional stage alone (`forward` then returns the
    ///     flattened features (N, F) and `backward` takes their gradient), over an arena that need only hold
    ///     the conv parameters with the model's shapes (a hybrid-parallel rank's, whose FC rows are sharded).
    public init(
        model: AlexNet, arena: ParameterArena, batch: Int, seed: UInt64, stream: ComputeStream = ComputeStream(),
        includesClassifier: Bool = true
    ) {
        precondition(batch >= 1, "network: batch size must be at least 1, got \(batch)")
        let convLayers = Set(model.features.map(\.name))
        let needed = model.parameterLayout.filter { includesClassifier || convLayers.contains($0.layer) }
        precondition(
            needed.allSatisfy { arena.contains($0.name) && arena.view($0.name).shape == $0.shape }
                && (!includesClassifier || arena.views.count == needed.count),
            "network: the parameter arena is not laid out for variant \(model.name)")
        self.model = model
        self.arena = arena
        self.batch = batch
        self.stream = stream
        input = Tensor(plain: [batch] + model.inputShape)
        var features = Network.buildLayers(
            model.features, input: input.desc, batch: batch, arena: arena,
            seed: seed, stream: stream, firstNeedsInputGradient: false)
        features.append(Flatten(input: features.last!.outputDesc, stream: stream))
        self.features = features
        classifier =
            includesClassifier
            ? Network.buildLayers(
                model.classifier, input: features.last!.outputDesc, batch: batch,
                arena: arena, seed: seed, stream: stream, firstNeedsInputGradient: true) : []
        loss = SoftmaxCrossEntropy(batch: batch, classes: model.classes)
        dropouts = classifier.compactMap { $0 as? Dropout }
        forwardSeconds = Array(repeating: 0, count: features.count + classifier.count)
        backwardSeconds = forwardSeconds
    }

    /// Builds the layers of a stage list, each on the previous layer's output format.
    public static func buildLayers(
        _ stages: [AlexNet.Stage], input: MemoryDesc, batch: Int, arena: ParameterArena,
        seed: UInt64, stream: ComputeStream, firstNeedsInputGradient: Bool
    ) -> [Layer] {
        var layers: [Layer] = []
        var desc = input
        for stage in stages {
            let needsInputGradient = !layers.isEmpty || firstNeedsInputGradient
            let layer: Layer
            switch stage {
            case .conv(let name, let out, let k, let s, let p, let g):
                let d = desc.dims
                let geometry = Conv2DGeometry(
                    batch: batch, inChannels: d[1], height: d[2], width: d[3],
                    outChannels: out, kernel: k, stride: s, padding: p, groups: g)
                layer = Conv2D(
                    name: name, geometry: geometry, weight: arena.view("\(name).weight"),
                    bias: arena.view("\(name).bias"), arena: arena, stream: stream,
                    computeInputGradient: needsInputGradient)
            case .relu(let name):
                layer = ReLU(name: name, input: desc, stream: stream)
            case .lrn(let name, let parameters):
                layer = LocalResponseNorm(name: name, parameters: parameters, input: desc, stream: stream)
            case .maxPool(let name, let k, let s):
                layer = MaxPool2D(
                    name: name, kernel: k, stride: s, input: desc, stream: stream,
                    computeInputGradient: needsInputGradient)
            case .linear(let name, _):
                layer = Linear(
                    name: name, batch: batch, weight: arena.view("\(name).weight"),
                    bias: arena.view("\(name).bias"), arena: arena, stream: stream,
                    computeInputGradient: needsInputGradient)
            case .dropout(let name, let p):
                layer = Dropout(name: name, probability: p, input: desc, seed: seed)
            }
            layers.append(layer)
            desc = layer.outputDesc
        }
        return layers
    }

    public var layers: [Layer] { features + classifier }

    /// Runs both stages on `input`; returns the logits (N, classes), owned by the last layer.
    /// - Parameter step: the training step, which selects the dropout masks.
    public func forward(training: Bool, step: UInt64 = 0) -> Tensor {
        for dropout in dropouts { dropout.step = step }
        var x = input
        for (i, layer) in layers.enumerated() {
            let timed = profiling || layerObserver != nil
            let start = timed ? monotonicSeconds() : 0
            x = layer.forward(x, training: training)
            // Dropout and the loss read the previous primitive's output on the CPU: the stream must be idle.
            stream.wait()
            if timed {
                let end = monotonicSeconds()
                if profiling { forwardSeconds[i] += end - start }
                layerObserver?(layer, false, start, end)
            }
        }
        return x
    }

    /// Back-propagates the gradient of the loss with respect to the output (the logits, or the features
    /// without a classifier) through every layer, overwriting the parameter gradients in the arena.
    /// - Parameter finished: called after each layer's backward pass, when that layer's parameter gradients
    ///   are final (a data-parallel trainer starts their allreduce there).
    public func backward(_ gradOutput: Tensor, finished: ((Layer) -> Void)? = nil) {
        var g: Tensor? = gradOutput
        for (i, layer) in layers.enumerated().reversed() {
            guard let dy = g else { break }
            let timed = profiling || layerObserver != nil
            let start = timed ? monotonicSeconds() : 0
            g = layer.backward(dy)
            stream.wait()
            if timed {
                let end = monotonicSeconds()
                if profiling { backwardSeconds[i] += end - start }
                layerObserver?(layer, true, start, end)
            }
            finished?(layer)
        }
    }

    /// Global index of this network's first example within the step's whole batch, for the dropout masks
    /// (a data-parallel rank r with B examples per rank sets r·B, so it draws one process's masks).
    public var firstExample: Int {
        get { dropouts.first?.rowOffset ?? 0 }
        set { for dropout in dropouts { dropout.rowOffset = newValue } }
    }

    /// Forward, softmax cross-entropy and backward on the batch in `input` with `labels`.
    /// Parameter gradients are those of the mean loss over the batch.
    /// - Returns: the sum of the per-example losses.
    @discardableResult
    public func computeGradients(labels: some Collection<Int32>, step: UInt64) -> Double {
        let logits = forward(training: true, step: step)
        let total = loss.forward(logits: logits, labels: labels)
        backward(loss.backward(scale: 1 / Float(batch)))
        return total
    }

    public func resetProfile() {
        forwardSeconds = Array(repeating: 0, count: forwardSeconds.count)
        backwardSeconds = forwardSeconds
    }
}
