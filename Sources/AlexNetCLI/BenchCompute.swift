import ArgumentParser
struct BenchCompute: ParsableCommand { static let configuration = CommandConfiguration(commandName: "compute") ; func run() throws {} }
