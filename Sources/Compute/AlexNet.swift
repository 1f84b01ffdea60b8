/// An AlexNet variant as a plain value: input shape, the convolutional stage, the fully connected stage.
///
/// The convolutional stage (`features`) ends in a 4-D activation that is flattened (PyTorch order) into
/// the first linear layer; the fully connected stage (`classifier`) ends in the class logits.
public struct AlexNet: Sendable, Equatable {
    public enum Stage: Sendable, Equatable {
        case conv(name: String, outChannels: Int, kernel: Int, stride: Int, padding: Int, groups: Int)
        case relu(name: String)
        case lrn(name: String, LRNParameters)
        case maxPool(name: String, kernel: Int, stride: Int)
        case linear(name: String, outFeatures: Int)
        case dropout(name: String, probability: Float)

        public var name: String {
            switch self {
            case .conv(let name, _, _, _, _, _), .relu(let name), .lrn(let name, _), .maxPool(let name, _, _),
                .linear(let name, _), .dropout(let name, _):
                return name
            }
        }
    }

    /// `paper`, `owt` or `small` (the name in checkpoints and on the command line).
    public var name: String
    /// (C, H, W) of one input image.
    public var inputShape: [Int]
    public var classes: Int
    public var features: [Stage]
    public var classifier: [Stage]
    /// The initialisation used unless another is asked for.
    public var defaultInitialization: Initialization

    /// The variants, by the names flags and files use: the one list of them.
    public enum Variant: String, CaseIterable, Sendable {
        case paper, owt, small
    }

    /// Variant names accepted by `named(_:groups:)`.
    public static let names = Variant.allCases.map(\.rawValue)

    /// The variant `variant`; `groups` 2 only for `paper` (nil otherwise).
    public static func make(_ variant: Variant, groups: Int = 1) -> AlexNet? {
        switch variant {
        case .paper: return .paper(groups: groups)
        case .owt: return groups == 1 ? .owt : nil
        case .small: return groups == 1 ? .small : nil
        }
    }

    public static func named(_ name: String, groups: Int = 1) -> AlexNet? {
        Variant(rawValue: name).flatMap { make($0, groups: groups) }
    }

    /// The most outputs a model may have (ImageNet-21k has 21,841 classes).
    public static let maxClasses = 100_000

    /// The same network with a last layer of `classes` outputs (torchvision's `num_classes`): fc8's rows
    /// change, nothing else.
    public func withClasses(_ classes: Int) -> AlexNet {
        precondition(classes >= 1, "AlexNet: \(classes) classes")
        var model = self
        model.classes = classes
        if case .linear(let name, _) = model.classifier.last {
            model.classifier[model.classifier.count - 1] = .linear(name: name, outFeatures: classes)
        }
        return model
    }

    /// Krizhevsky, Sutskever & Hinton 2012: 3×227×227, conv 96-256-384-384-256, LRN after conv1 and conv2
    /// (after ReLU), overlapping max-pooling, FC 4096-4096-1000 with dropout 0.5.
    /// - Parameter groups: 2 restricts conv2, conv4 and conv5 to half the input channels (the original
    ///   two-GPU connectivity, Caffe's `bvlc_alexnet`: 60,965,224 parameters); 1 is the single tower
    ///   (62,378,344 parameters).
    public static func paper(groups: Int = 1) -> AlexNet {
        AlexNet(
            name: "paper", inputShape: [3, 227, 227], classes: 1000,
            features: convStack(
                [
                    (96, 11, 4, 0, 1), (256, 5, 1, 2, groups), (384, 3, 1, 1, 1), (384, 3, 1, 1, groups),
                    (256, 3, 1, 1, groups),
                ]),
            classifier: fcStack([4096, 4096, 1000]), defaultInitialization: .paper)
    }

    /// Krizhevsky 2014 ("one weird trick"): single tower, 3×224×224, conv 64-192-384-256-256 (conv1 padded
    /// by 2, as torchvision's `alexnet`), LRN after conv1 and conv2, FC 4096-4096-1000: 61,100,840 parameters.
    public static let owt = AlexNet(
        name: "owt", inputShape: [3, 224, 224], classes: 1000,
        features: convStack([
            (64, 11, 4, 2, 1), (192, 5, 1, 2, 1), (384, 3, 1, 1, 1), (256, 3, 1, 1, 1),
            (256, 3, 1, 1, 1),
        ]),
        classifier: fcStack([4096, 4096, 1000]), defaultInitialization: .paper)

    /// The same eight-layer shape for 1×28×28 images and 10 classes (Fashion-MNIST): conv 64 5×5 pad 2,
    /// 128 5×5 pad 2, 192, 192, 128 3×3 pad 1; max-pool 3/2 after conv1, conv2 and conv5; FC
    /// 512→1024→1024→10 with dropout 0.5: 2,566,410 parameters. Defaults to He initialisation (the
    /// paper's N(0, 0.01) does not learn on unit-variance inputs: the signal vanishes).
    public static let small = AlexNet(
        name: "small", inputShape: [1, 28, 28], classes: 10,
        features: convStack([
            (64, 5, 1, 2, 1), (128, 5, 1, 2, 1), (192, 3, 1, 1, 1), (192, 3, 1, 1, 1),
            (128, 3, 1, 1, 1),
        ]),
        classifier: fcStack([1024, 1024, 10]), defaultInitialization: .he)

    /// conv1 … conv5 with ReLU; LRN and max-pool after conv1 and conv2; max-pool after conv5.
    private static func convStack(_ convs: [(out: Int, kernel: Int, stride: Int, pad: Int, groups: Int)]) -> [Stage] {
        var stages: [Stage] = []
        for (i, c) in convs.enumerated() {
            let n = i + 1
            stages.append(
                .conv(
                    name: "conv\(n)", outChannels: c.out, kernel: c.kernel, stride: c.stride,
                    padding: c.pad, groups: c.groups))
            stages.append(.relu(name: "relu\(n)"))
            if n <= 2 { stages.append(.lrn(name: "norm\(n)", .alexNet)) }
            if n <= 2 || n == 5 { stages.append(.maxPool(name: "pool\(n)", kernel: 3, stride: 2)) }
        }
        return stages
    }

    /// fc6 … fc8: ReLU and dropout 0.5 after every layer but the last.
    private static func fcStack(_ widths: [Int]) -> [Stage] {
        var stages: [Stage] = []
        for (i, width) in widths.enumerated() {
            let n = i + 6
            stages.append(.linear(name: "fc\(n)", outFeatures: width))
            if i < widths.count - 1 {
                stages.append(.relu(name: "relu\(n)"))
                stages.append(.dropout(name: "drop\(n)", probability: 0.5))
            }
        }
        return stages
    }
}

// MARK: - Shapes and parameters

extension AlexNet {
    /// One row of the variant's table: a stage, its output shape per image and its parameter count.
    public struct LayerInfo: Sendable {
        public let stage: Stage
        public let outputShape: [Int]
        public let parameters: Int
        /// Multiply-adds of the forward pass for one image.
        public let multiplyAdds: Double
    }

    /// Shapes through the network, per image, with parameter counts.
    public var layers: [LayerInfo] {
        var shape = inputShape
        var rows: [LayerInfo] = []
        for stage in features + classifier {
            var params = 0, macs = 0.0
            switch stage {
            case .conv(_, let out, let k, let s, let p, let g):
                let c = shape[0]
                let h = (shape[1] + 2 * p - k) / s + 1, w = (shape[2] + 2 * p - k) / s + 1
                params = out * (c / g) * k * k + out
                macs = Double(out * h * w) * Double(c / g * k * k)
                shape = [out, h, w]
            case .maxPool(_, let k, let s):
                shape = [shape[0], (shape[1] - k) / s + 1, (shape[2] - k) / s + 1]
            case .linear(_, let out):
                let inFeatures = shape.reduce(1, *)
                params = out * inFeatures + out
                macs = Double(out * inFeatures)
                shape = [out]
            case .relu, .lrn, .dropout:
                break
            }
            rows.append(LayerInfo(stage: stage, outputShape: shape, parameters: params, multiplyAdds: macs))
        }
        return rows
    }

    /// (C, H, W) at the end of the convolutional stage.
    public var featureShape: [Int] {
        layers[features.count - 1].outputShape
    }

    /// Width of the flattened conv-stage output, the first linear layer's input.
    public var featureWidth: Int { featureShape.reduce(1, *) }

    /// Trainable parameters.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameters } }

    /// Multiply-adds of one forward pass per image.
    public var multiplyAdds: Double { layers.reduce(0) { $0 + $1.multiplyAdds } }

    /// The parameter arena layout: `conv1.weight`, `conv1.bias`, ..., `fc8.bias`, in network order, so that
    /// the conv parameters form one contiguous range followed by the FC parameters.
    public var parameterLayout: [(layer: String, name: String, shape: [Int])] {
        var layout: [(layer: String, name: String, shape: [Int])] = []
        var shape = inputShape
        for stage in features + classifier {
            switch stage {
            case .conv(let name, let out, let k, let s, let p, let g):
                layout.append((name, "\(name).weight", [out, shape[0] / g, k, k]))
                layout.append((name, "\(name).bias", [out]))
                shape = [out, (shape[1] + 2 * p - k) / s + 1, (shape[2] + 2 * p - k) / s + 1]
            case .maxPool(_, let k, let s):
                shape = [shape[0], (shape[1] - k) / s + 1, (shape[2] - k) / s + 1]
            case .linear(let name, let out):
                layout.append((name, "\(name).weight", [out, shape.reduce(1, *)]))
                layout.append((name, "\(name).bias", [out]))
                shape = [out]
            case .relu, .lrn, .dropout:
                break
            }
        }
        return layout
    }

    /// Names of the layers that carry parameters, in order (`conv1` … `fc8`).
    public var parameterLayers: [String] {
        (features + classifier).compactMap {
            switch $0 {
            case .conv(let name, _, _, _, _, _), .linear(let name, _): return name
            default: return nil
            }
        }
    }

    /// A new arena laid out for this variant, zero-filled.
    public func makeArena() -> ParameterArena { ParameterArena(layout: parameterLayout) }
}
