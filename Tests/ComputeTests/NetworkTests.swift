import Testing

@testable import Compute

/// A miniature of the eight-layer shape, small enough for finite differences through the whole network.
let miniature = AlexNet(
    name: "mini", inputShape: [2, 9, 9], classes: 3,
    features: [
        .conv(name: "conv1", outChannels: 4, kernel: 3, stride: 1, padding: 1, groups: 1), .relu(name: "relu1"),
        .lrn(name: "norm1", LRNParameters(size: 3, alpha: 0.3, beta: 0.75, k: 2)),
        .maxPool(name: "pool1", kernel: 3, stride: 2),
        .conv(name: "conv2", outChannels: 4, kernel: 3, stride: 1, padding: 1, groups: 2), .relu(name: "relu2"),
        .maxPool(name: "pool2", kernel: 3, stride: 2),
    ],
    classifier: [
        .linear(name: "fc3", outFeatures: 5), .relu(name: "relu3"), .dropout(name: "drop3", probability: 0.4),
        .linear(name: "fc4", outFeatures: 3),
    ],
    defaultInitialization: .he)

@Suite struct NetworkTests {
    @Test func gradientsOfTheMeanLossMatchFiniteDifferences() {
        let arena = miniature.makeArena()
        Initialization.he.apply(to: arena, model: miniature, seed: 3)
        for view in arena.views where view.isBias { arena.values(of: view).update(repeating: 0.05) }
        let net = Network(model: miniature, arena: arena, batch: 3, seed: 8)
        var random = TestRandom(4)
        let input = random.uniform(net.input.floats.count)
        let labels: [Int32] = [2, 0, 1]
        func loss() -> Double {
            _ = net.input.floats.update(fromContentsOf: input)
            let logits = net.forward(training: true, step: 7)
            return net.loss.forward(logits: logits, labels: labels) / 3
        }
        _ = net.input.floats.update(fromContentsOf: input)
        net.computeGradients(labels: labels, step: 7)
        let analytic = Array(arena.gradients)
        // Every parameter of every tensor, central differences in float (ε = 1e-3 keeps max-pool arg-maxes fixed).
        let epsilon: Float = 1e-3
        var worst: Float = 0, worstName = ""
        for view in arena.views {
            for i in view.range {
                let saved = arena.values[i]
                arena.values[i] = saved + epsilon
                let up = loss()
                arena.values[i] = saved - epsilon
                let down = loss()
                arena.values[i] = saved
                let numeric = Float((up - down) / Double(2 * epsilon))
                let error = abs(numeric - analytic[i]) / (1e-2 + abs(numeric))
                if error > worst { worst = error; worstName = "\(view.name)[\(i - view.offset)]" }
            }
        }
        #expect(worst < 0.05, "worst relative error \(worst) at \(worstName)")
    }

    @Test func rejectsAnArenaOfAnotherVariant() async {
        await #expect(processExitsWith: .failure) {
            _ = Network(model: .small, arena: AlexNet.owt.makeArena(), batch: 1, seed: 0)
        }
    }
}
