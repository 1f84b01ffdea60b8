/// One named parameter tensor inside the flat arenas: `values[offset ..< offset + count]` and the same
/// range of `gradients`.
public struct ParameterView: Sendable, Equatable {
    /// `conv1.weight`, `fc6.bias`, ... (the tensor name in safetensors files).
    public let name: String
    /// The layer the tensor belongs to (`conv1`).
    public let layer: String
    /// PyTorch's shape convention: conv weights (O, I/groups, KH, KW), linear weights (O, I), biases (O).
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
    public var isBias: Bool { name.hasSuffix(".bias") }
}

/// One flat parameter arena and one flat gradient arena of the same layout, with named views.
///
/// Views are laid out in network order (conv1 ... fc8, weight before bias), each starting on a 64-byte
/// boundary; the gaps between views hold zeros in both arenas. Keeping every parameter in one buffer
/// makes gradient synchronisation a matter of ranges (no fusion-buffer copies) and makes sharding the FC
/// part a matter of row ranges.
public final class ParameterArena: @unchecked Sendable {
    public let views: [ParameterView]
    /// Parameter values, `count` floats.
    public let values: UnsafeMutableBufferPointer<Float>
    /// Gradients of the loss with respect to `values`, same layout.
    public let gradients: UnsafeMutableBufferPointer<Float>
    private let index: [String: Int]

    /// - Parameter layout: `(layer, name, shape)` in network order.
    public init(layout: [(layer: String, name: String, shape: [Int])]) {
        let (views, count) = ParameterArena.views(layout: layout)
        self.views = views
        index = Dictionary(uniqueKeysWithValues: views.enumerated().map { ($1.name, $0) })
        values = ParameterArena.allocate(count)
        gradients = ParameterArena.allocate(count)
    }

    /// The views an arena of `layout` has, and its length, without allocating it: each tensor starts on a
    /// 16-float (64-byte) boundary.
    public static func views(
        layout: [(layer: String, name: String, shape: [Int])]
    ) -> (
        views: [ParameterView], count: Int
    ) {
        var views: [ParameterView] = []
        var offset = 0
        for entry in layout {
            views.append(ParameterView(name: entry.name, layer: entry.layer, shape: entry.shape, offset: offset))
            offset = (offset + entry.shape.reduce(1, *) + 15) / 16 * 16
        }
        return (views, max(offset, 16))
    }

    private static func allocate(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
        let p = raw.initializeMemory(as: Float.self, repeating: 0, count: count)
        return UnsafeMutableBufferPointer(start: p, count: count)
    }

    /// A copy of every value (the arena stays alive during the copy, unlike `Array(arena.values)` on an
    /// arena nothing else holds).
    public var valueArray: [Float] { Array(values) }

    /// Length of each arena in floats (including alignment gaps).
    public var count: Int { values.count }

    /// Number of trainable parameters (excluding alignment gaps).
    public var parameterCount: Int { views.reduce(0) { $0 + $1.count } }

    public func view(_ name: String) -> ParameterView {
        guard let i = index[name] else { preconditionFailure("no parameter named \(name)") }
        return views[i]
    }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    /// The values of one view.
    public func values(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: values[view.range])
    }

    /// The gradients of one view.
    public func gradients(of view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(rebasing: gradients[view.range])
    }

    /// A tensor over the values of one view (keeps the arena alive).
    func valueTensor(_ view: ParameterView, _ desc: MemoryDesc) -> Tensor {
        precondition(
            desc.byteCount == view.count * 4, "\(view.name): \(view.shape) does not fill a \(desc.dims) tensor")
        return Tensor(desc, borrowing: UnsafeMutableRawPointer(values(of: view).baseAddress!), owner: self)
    }

    /// A tensor over the gradients of one view (keeps the arena alive).
    func gradientTensor(_ view: ParameterView, _ desc: MemoryDesc) -> Tensor {
        precondition(
            desc.byteCount == view.count * 4, "\(view.name): \(view.shape) does not fill a \(desc.dims) tensor")
        return Tensor(desc, borrowing: UnsafeMutableRawPointer(gradients(of: view).baseAddress!), owner: self)
    }

    /// The arena range spanning a contiguous run of views (e.g. all conv parameters).
    public func range(of views: [ParameterView]) -> Range<Int> { ParameterArena.range(of: views) }

    /// The range from the first view's start to the last one's end (views in arena order).
    public static func range(of views: [ParameterView]) -> Range<Int> {
        guard let first = views.first, let last = views.last else { return 0..<0 }
        return first.offset..<last.range.upperBound
    }

    public func zeroGradients() {
        gradients.update(repeating: 0)
    }

    /// Copies every value from another arena of the same layout.
    public func copyValues(from other: ParameterArena) {
        precondition(other.views == views, "copying parameters between arenas of different layouts")
        _ = values.update(fromContentsOf: other.values)
    }

    deinit {
        values.baseAddress!.deallocate()
        gradients.baseAddress!.deallocate()
    }
}
