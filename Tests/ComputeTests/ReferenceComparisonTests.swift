import Datasets
import Foundation
import Processes
import ReferenceKernels
import Testing

@testable import Compute

/// Every oneDNN primitive of every variant, and one whole training step per variant, against the float64
/// reference kernels (Note [reference kernels]) on whatever instruction set oneDNN picks here, and once
/// more under `ONEDNN_MAX_CPU_ISA=AVX2` on a machine with more (issue 22). Each test prints its figures.
@Suite struct ReferenceComparisonTests {
    /// A variant at a batch size, with He initialisation (the signal neither vanishes nor explodes, so
    /// every layer sees values of its real scale) and either Fashion-MNIST's images or unit-variance noise.
    struct Case: CustomTestStringConvertible, Sendable {
        let model: AlexNet
        let batch: Int
        /// The first training example of the batch, for Fashion-MNIST; nil for noise.
        let fashionMNIST: Int?
        var testDescription: String {
            "\(model.name)\(model.name == "paper" ? " groups \(groups)" : "") batch \(batch)"
                + (fashionMNIST != nil ? " Fashion-MNIST" : "")
        }
        /// The largest group count of the variant's convolutions (paper's conv2, conv4 and conv5).
        var groups: Int {
            model.features.compactMap { if case .conv(_, _, _, _, _, let g) = $0 { g } else { nil } }.max() ?? 1
        }

        static let seed: UInt64 = 3
        static let step: UInt64 = 0

        /// A network over a fresh arena, its input filled, and the batch's labels.
        func makeNetwork() throws -> (Network, [Int32]) {
            let arena = model.makeArena()
            Initialization.he.apply(to: arena, model: model, seed: Self.seed)
            let network = Network(model: model, arena: arena, batch: batch, seed: Self.seed)
            var labels = (0..<batch).map { Int32($0 % model.classes) }
            if let first = fashionMNIST {
                let data = try FashionMNIST.load(split: .train)
                let examples = ImageExamples(images: data, normalization: data.channelStatistics())
                labels.withUnsafeMutableBufferPointer {
                    examples.fill(
                        first..<(first + batch), epoch: 0, use: .evaluation(view: 0), seed: Self.seed,
                        images: network.input.floats, labels: $0)
                }
            } else {
                var random = TestRandom(Self.seed)
                // Uniform on ±√3: unit variance, like normalised images.
                _ = network.input.floats.update(
                    fromContentsOf: random.uniform(network.input.elementCount, -1.732...1.732))
            }
            return (network, labels)
        }
    }

    /// The variants at batch sizes they train and benchmark at: `small` at its recipe's 128 (where issue 22
    /// was seen), the ImageNet variants at a hybrid rank's 32 (`paper` at 128 needs 7 GB and 35 s here).
    static let primitiveCases: [Case] = [
        Case(model: .small, batch: 128, fashionMNIST: 1000),
        Case(model: .paper(groups: 1), batch: 32, fashionMNIST: nil),
        Case(model: .paper(groups: 2), batch: 32, fashionMNIST: nil),
        Case(model: .owt, batch: 32, fashionMNIST: nil),
    ]

    /// Whole steps: the reference computes every element, so the ImageNet variants take two images. The
    /// repetition under AVX2 takes `small` on Fashion-MNIST alone, where the decisions at ties are: the
    /// ImageNet variants' whole steps compose primitives it checks one by one on their actual inputs, and
    /// cost two thirds of the suite's time.
    static let stepCases: [Case] =
        [Case(model: .small, batch: 32, fashionMNIST: 1000)]
        + (ProcessInfo.processInfo.environment[childMarker] != nil
            ? []
            : [
                Case(model: .paper(groups: 1), batch: 2, fashionMNIST: nil),
                Case(model: .paper(groups: 2), batch: 2, fashionMNIST: nil),
                Case(model: .owt, batch: 2, fashionMNIST: nil),
            ])

    @Test(arguments: primitiveCases)
    func everyPrimitiveMatchesTheReference(_ c: Case) throws {
        let (network, labels) = try c.makeNetwork()
        let trace = NetworkTrace(network: network, labels: labels, step: Case.step)
        let check = LayerReferenceCheck(
            trace: trace, arena: network.arena, samples: 2000,
            dropoutMasks: NetworkTrace.dropoutMasks(of: network, seed: Case.seed, step: Case.step))
        var lines = ["\(c.testDescription) on \(ComputeEngine.instructionSet): worst relative difference per primitive"]
        for i in trace.records.indices {
            for result in check.results(layer: i) {
                lines.append("  \(result)")
                #expect(result.passed, "\(c.testDescription) on \(ComputeEngine.instructionSet): \(result)")
            }
        }
        print(lines.joined(separator: "\n"))
    }

    @Test(arguments: stepCases)
    func wholeStepMatchesTheReference(_ c: Case) throws {
        let (network, labels) = try c.makeNetwork()
        let trace = NetworkTrace(network: network, labels: labels, step: Case.step)
        var parameters: [String: [Double]] = [:]
        for view in network.arena.views { parameters[view.name] = network.arena.values(of: view).map(Double.init) }
        let reference = ReferenceStep(
            model: c.model, parameters: parameters,
            input: ReferenceTensor(dims: network.input.dims, floats: trace.records[0].input), labels: labels,
            dropoutMasks: NetworkTrace.dropoutMasks(of: network, seed: Case.seed, step: Case.step),
            stageInputs: trace.stageInputs)
        let where_ = "\(c.testDescription) on \(ComputeEngine.instructionSet)"
        var lines = ["\(where_): one step against the float64 reference"]
        let lossDifference = abs(trace.loss - reference.loss) / abs(reference.loss)
        lines.append("  loss \(trace.loss) vs \(reference.loss): relative \(lossDifference)")
        // The loss is a sum of N logs of float32 softmax terms: 1e-6 relative.
        #expect(lossDifference <= 1e-6, "\(where_): loss \(trace.loss), reference \(reference.loss)")
        let logits = Discrepancy(actual: trace.logits, reference: reference.logits.values)
        lines.append("  logits \(logits)")
        #expect(logits.relative <= 1e-5, "\(where_): logits \(logits)")
        for view in network.arena.views {
            let d = Discrepancy(
                actual: trace.parameterGradients[view.name]!, reference: reference.gradients[view.name]!)
            lines.append("  \(view.name) gradient \(d)")
            // Bound 1e-5: float32 sums through up to eight layers, every decision at a tie shared.
            #expect(d.relative <= 1e-5, "\(where_): \(view.name) gradient \(d)")
        }
        for report in reference.decisions where report.differing > 0 {
            lines.append("  \(report)")
            #expect(report.beyondTies == 0, "\(where_): \(report)")
        }
        print(lines.joined(separator: "\n"))
    }

    /// The suite again in a child process whose oneDNN is capped at AVX2, on machines with more (every
    /// primitive, and `small`'s whole step: `stepCases`).
    @Test(.enabled(if: ReferenceComparisonTests.canRepeatUnderAVX2, "the machine has no ISA above AVX2"))
    func theSameHoldsUnderAVX2() throws {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let child = ChildProcess(
            [executable, "--testing-library", "swift-testing", "--filter", "ReferenceComparisonTests"],
            environment: ChildProcess.environment(adding: ["ONEDNN_MAX_CPU_ISA": "AVX2", Self.childMarker: "1"]),
            mergeErrorIntoOutput: true, timeout: 900)
        let result = try child.run()
        print(result.outputText)
        #expect(
            result.status == 0 && !result.timedOut, "the reference comparisons under AVX2 failed:\n\(result.outputText)"
        )
        #expect(result.outputText.contains("on avx2:"), "the child did not run on AVX2 kernels")
    }

    static let childMarker = "ALEXNET_REFERENCE_CHILD"
    static var canRepeatUnderAVX2: Bool {
        ProcessInfo.processInfo.environment[childMarker] == nil && ComputeEngine.usesAVX512
    }
}
