import Compute
func smoke() {
    for (m, b) in [(AlexNet.small, 128), (AlexNet.paper(), 32), (AlexNet.paper(groups: 2), 8), (AlexNet.owt, 8)] {
        let arena = m.makeArena()
        m.defaultInitialization.apply(to: arena, model: m, seed: 1)
        let net = Network(model: m, arena: arena, batch: b, seed: 1)
        for i in 0..<net.input.floats.count { net.input.floats[i] = Float(i % 7) * 0.1 }
        let labels = (0..<b).map { Int32($0 % m.classes) }
        let t0 = monotonicSeconds()
        let l = net.computeGradients(labels: labels, step: 0)
        let t1 = monotonicSeconds()
        let l2 = net.computeGradients(labels: labels, step: 1)
        let t2 = monotonicSeconds()
        print(m.name, m.parameterCount, arena.parameterCount, l / Double(b), l2 / Double(b), t1 - t0, t2 - t1, Double(b)/(t2-t1))
        for layer in net.layers { if let c = layer as? Conv2D { print(" ", c.name, c.implementations) } ; if let c = layer as? Linear { print(" ", c.name, c.implementations) } }
    }
}
smoke()
