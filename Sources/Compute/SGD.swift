import Dispatch
import Foundation

/// Momentum SGD with weight decay in the update form of Krizhevsky et al. 2012:
///
///     v ← μ·v − λ·ε·w − ε·∂L/∂w
///     w ← w + v
///
/// with momentum μ (0.9), weight decay λ (0.0005) and learning rate ε (0.01), applied to every parameter
/// (biases included, as the paper writes it). Unlike PyTorch's `SGD`, ε enters the velocity, so changing
/// ε does not rescale the momentum already accumulated.
public final class SGD: @unchecked Sendable {
    public var momentum: Float
    public var weightDecay: Float
    public let arena: ParameterArena
    /// v, laid out like the arena (optimiser state for checkpoints).
    public let velocity: UnsafeMutableBufferPointer<Float>
    private let lock = NSLock()
    private var nonFinite = false

    /// Whether an update since the last `resetFiniteCheck` wrote a NaN or an infinity into the weights
    /// (Note [the non-finite guard]: a NaN or infinite gradient or momentum always reaches the weight).
    public var sawNonFinite: Bool {
        lock.lock()
        defer { lock.unlock() }
        return nonFinite
    }

    public func resetFiniteCheck() {
        lock.lock()
        nonFinite = false
        lock.unlock()
    }

    public init(arena: ParameterArena, momentum: Float = 0.9, weightDecay: Float = 0.0005) {
        self.arena = arena
        self.momentum = momentum
        self.weightDecay = weightDecay
        let raw = UnsafeMutableRawPointer.allocate(byteCount: arena.count * 4, alignment: 64)
        velocity = UnsafeMutableBufferPointer(
            start: raw.initializeMemory(as: Float.self, repeating: 0, count: arena.count),
            count: arena.count)
    }

    deinit { velocity.baseAddress!.deallocate() }

    /// Updates `range` of the arena (all of it by default) from the gradients in the gradient arena, and
    /// notes whether any updated weight is not finite (`sawNonFinite`): the largest exponent field written
    /// is kept in the same pass (an integer maximum the loop vectorises), all ones only for NaN and ±∞.
    public func step(learningRate: Float, range: Range<Int>? = nil) {
        let range = range ?? 0..<arena.count
        let w = SendablePointer(arena.values.baseAddress!), g = SendablePointer(arena.gradients.baseAddress!)
        let v = SendablePointer(velocity.baseAddress!)
        let mu = momentum, decay = weightDecay * learningRate, lr = learningRate
        let exponent: UInt32 = 0x7F80_0000
        parallelChunks(range) { [self] chunk in
            let w = w.pointer, g = g.pointer, v = v.pointer
            var largest: UInt32 = 0
            for i in chunk {
                let vi = mu * v[i] - decay * w[i] - lr * g[i]
                v[i] = vi
                let wi = w[i] + vi
                w[i] = wi
                largest = max(largest, wi.bitPattern & exponent)
            }
            if largest == exponent {
                lock.lock()
                nonFinite = true
                lock.unlock()
            }
        }
    }
}

/// A raw pointer handed to worker threads that touch disjoint elements.
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// Splits `range` into one chunk per available core and runs `body` on the chunks concurrently.
/// Small ranges run inline.
public func parallelChunks(
    _ range: Range<Int>, minimumChunk: Int = 1 << 16,
    _ body: @Sendable (Range<Int>) -> Void
) {
    let workers = min(ComputeEngine.threadCount, max(1, range.count / minimumChunk))
    if workers <= 1 {
        body(range)
        return
    }
    let size = (range.count + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { k in
        let lower = range.lowerBound + k * size
        let upper = min(range.upperBound, lower + size)
        if lower < upper { body(lower..<upper) }
    }
}
