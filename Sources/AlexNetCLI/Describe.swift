import ArgumentParser
import Compute
import Foundation

struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a variant's layers, output shapes, parameter counts and multiply-adds.")

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let model = modelOptions.model
        print(
            "\(model.name)\(modelOptions.groups > 1 ? " (groups \(modelOptions.groups))" : ""): input \(model.inputShape.map(String.init).joined(separator: "×")), \(model.classes) classes"
        )
        print(pad("layer", 8) + pad("output", 16) + lpad("parameters", 14) + lpad("MMAC/image", 14))
        for row in model.layers {
            let shape = row.outputShape.map(String.init).joined(separator: "×")
            print(
                pad(row.stage.name, 8) + pad(shape, 16) + lpad(row.parameters > 0 ? grouped(row.parameters) : "", 14)
                    + lpad(row.multiplyAdds > 0 ? String(format: "%.1f", row.multiplyAdds / 1e6) : "", 14))
        }
        let conv = model.layers.prefix(model.features.count).reduce(0) { $0 + $1.parameters }
        print(
            "total parameters: \(grouped(model.parameterCount)) (conv \(grouped(conv)), fc \(grouped(model.parameterCount - conv)))"
        )
        print(String(format: "forward multiply-adds per image: %.3f G", model.multiplyAdds / 1e9))
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.padding(toLength: max(n, s.count + 1), withPad: " ", startingAt: 0)
    }
    private func lpad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
}

/// 62378344 → "62,378,344".
func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}
