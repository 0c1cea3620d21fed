// svmfuzz kvm-plan: the plan the real-KVM runner replays for a program (Sources/svmfuzz-kvm/PLAN.md).

import ArgumentParser
import SVMFuzzKit

struct KvmPlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kvm-plan",
        abstract: "Print the plan the real-KVM runner (svmfuzz-kvm) replays for a program.")

    @Argument(help: "A .svm program or a raw libFuzzer input.")
    var file: String

    func run() throws {
        let input = try Input.load(file)
        print(KvmPlan.lower(input.program, name: file), terminator: "")
    }
}
