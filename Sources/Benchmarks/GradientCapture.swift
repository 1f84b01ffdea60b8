import Compute
import Datasets
import Training

/// The parameter gradient (the whole arena: conv, then FC) after `steps` real SGD steps of `model` on
/// `images`, starting at example `shard × batch × steps` so that each rank captures a different one: the
/// payload `bench allreduce` uses to measure codecs on real gradients rather than on random numbers.
///
/// Images smaller than the model's input (Fashion-MNIST for `paper` and `owt`) are enlarged by pixel
/// repetition and copied to every input channel; their labels are used as they are.
public func captureGradients(
    model: AlexNet, images: LabeledImages, batch: Int, steps: Int, shard: Int, seed: UInt64
) throws -> [Float] {
    precondition(batch >= 1 && steps >= 1, "captureGradients: batch and steps must be positive")
    guard images.count >= batch else {
        throw TrainingError(
            "gradient capture: \(images.source) holds \(images.count) images, fewer than a batch of \(batch)")
    }
    guard images.imageShape.count == 3, images.imageShape[0] == 1 || images.imageShape[0] == model.inputShape[0]
    else {
        throw TrainingError(
            "gradient capture: images of shape \(images.imageShape) do not fit \(model.name)'s input \(model.inputShape)"
        )
    }
    let arena = model.makeArena()
    model.defaultInitialization.apply(to: arena, model: model, seed: seed)
    let network = Network(model: model, arena: arena, batch: batch, seed: seed)
    let optimizer = SGD(arena: arena)
    let statistics = images.channelStatistics()
    let (c, h, w) = (model.inputShape[0], model.inputShape[1], model.inputShape[2])
    let (sc, sh, sw) = (images.imageShape[0], images.imageShape[1], images.imageShape[2])
    let input = network.input.floats
    for step in 0..<steps {
        var labels: [Int32] = []
        for b in 0..<batch {
            let example = ((shard * steps + step) * batch + b) % images.count
            labels.append(images.labels[example] % Int32(model.classes))
            let pixels = example * images.imageSize
            for channel in 0..<c {
                let source = sc == 1 ? 0 : channel
                let (mean, std) = (statistics.mean[source], statistics.std[source])
                for y in 0..<h {
                    for x in 0..<w {
                        let p = images.pixels[pixels + (source * sh + y * sh / h) * sw + x * sw / w]
                        input[((b * c + channel) * h + y) * w + x] = (Float(p) / 255 - mean) / std
                    }
                }
            }
        }
        let loss = network.computeGradients(labels: labels, step: UInt64(step)) / Double(batch)
        guard loss.isFinite else { throw TrainingError("gradient capture: step \(step) gave the loss \(loss)") }
        if step < steps - 1 { optimizer.step(learningRate: 0.01) }
    }
    return Array(arena.gradients)
}
