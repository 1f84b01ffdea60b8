import Testing

@testable import Compute

@Suite struct AlexNetTests {
    @Test func parameterCountsMatchTheReference() {
        #expect(AlexNet.paper().parameterCount == 62_378_344)
        #expect(AlexNet.paper(groups: 2).parameterCount == 60_965_224)
        #expect(AlexNet.owt.parameterCount == 61_100_840)
        #expect(AlexNet.small.parameterCount == 2_566_410)
        for model in [AlexNet.paper(), .paper(groups: 2), .owt, .small] {
            #expect(model.makeArena().parameterCount == model.parameterCount)
        }
    }

    @Test func shapesFollowTheTables() {
        #expect(AlexNet.paper().featureShape == [256, 6, 6])
        #expect(AlexNet.owt.featureShape == [256, 6, 6])
        #expect(AlexNet.small.featureShape == [128, 2, 2])
        #expect(AlexNet.paper().layers.first!.outputShape == [96, 55, 55])
        #expect(AlexNet.owt.layers.first!.outputShape == [64, 55, 55])
        // 1.14 G multiply-accumulates per 227×227 image; torchvision's alexnet 0.714 G.
        #expect(abs(AlexNet.paper().multiplyAdds / 1e9 - 1.135) < 0.001)
        #expect(abs(AlexNet.owt.multiplyAdds / 1e9 - 0.714) < 0.001)
    }

    @Test func convParametersPrecedeFCParametersInTheArena() {
        let arena = AlexNet.paper().makeArena()
        let conv = arena.views.filter { $0.layer.hasPrefix("conv") }
        let fc = arena.views.filter { $0.layer.hasPrefix("fc") }
        #expect(arena.range(of: conv).upperBound <= fc.first!.offset)
        #expect(arena.views.map(\.name).prefix(3) == ["conv1.weight", "conv1.bias", "conv2.weight"])
        #expect(arena.view("conv2.weight").shape == [256, 96, 5, 5])
        #expect(AlexNet.paper(groups: 2).makeArena().view("conv2.weight").shape == [256, 48, 5, 5])
    }
}

@Suite struct InitializationTests {
    @Test func paperInitialisationHasUnitBiasesWhereThePaperSays() {
        let model = AlexNet.small
        let arena = model.makeArena()
        Initialization.paper.apply(to: arena, model: model, seed: 1)
        for view in arena.views where view.isBias {
            let expected: Float = ["conv2", "conv4", "conv5", "fc6", "fc7"].contains(view.layer) ? 1 : 0
            #expect(arena.values(of: view).allSatisfy { $0 == expected }, "\(view.name)")
        }
        let w = arena.values(of: arena.view("conv2.weight"))
        let std = (w.reduce(0.0) { $0 + Double($1 * $1) } / Double(w.count)).squareRoot()
        #expect(abs(std - 0.01) < 0.0005)
    }

    @Test func caffeUsesBiasesOfOneTenth() {
        let arena = AlexNet.small.makeArena()
        Initialization.caffe.apply(to: arena, model: .small, seed: 1)
        #expect(arena.values(of: arena.view("fc6.bias")).allSatisfy { $0 == 0.1 })
        #expect(arena.values(of: arena.view("conv1.bias")).allSatisfy { $0 == 0 })
    }

    @Test func heScalesByFanIn() {
        let arena = AlexNet.small.makeArena()
        Initialization.he.apply(to: arena, model: .small, seed: 1)
        func std(_ name: String) -> Double {
            let w = arena.values(of: arena.view(name))
            return (w.reduce(0.0) { $0 + Double($1 * $1) } / Double(w.count)).squareRoot()
        }
        #expect(abs(std("conv2.weight") / (2.0 / (64 * 25)).squareRoot() - 1) < 0.02)
        #expect(abs(std("fc7.weight") / (2.0 / 1024).squareRoot() - 1) < 0.02)
        #expect(abs(std("fc8.weight") / (1.0 / 1024).squareRoot() - 1) < 0.05)
    }

    @Test func eachTensorDependsOnlyOnSeedAndName() {
        let a = AlexNet.small.makeArena(), b = AlexNet.small.makeArena(), c = AlexNet.small.makeArena()
        Initialization.he.apply(to: a, model: .small, seed: 5)
        Initialization.he.apply(to: b, model: .small, seed: 5)
        Initialization.he.apply(to: c, model: .small, seed: 6)
        #expect(Array(a.values) == Array(b.values))
        #expect(Array(a.values) != Array(c.values))
    }
}
