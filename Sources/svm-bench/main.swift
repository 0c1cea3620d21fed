// svm-bench: operations per second of the SVMModel core on a fixed, deterministic mix.
//
//   swift run -c release svm-bench [--ops N]
//   svm-bench --executor [N]            the fuzz harness on the corpus, timed (ExecutorBench.swift)
//   svm-bench --harness R [--length L]  the fuzz harness, R untimed rounds, for valgrind (HarnessRounds.swift)
//
// One operation is one call into the core that a fuzzer program step makes: a KVM_RUN start (with
// its first entry), one guest instruction with its exit handling and the re-entry, the end of a
// run, one ioctl, or a vCPU reset. The cycle below is fixed; nothing is random. Every outcome is
// checked, so a core that takes a different path stops the benchmark instead of timing it.

import SVMModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: Arguments

var targetOps = 20_000_000
var executorInputs: Int? = nil
var harnessRoundCount: Int? = nil
var harnessLength: Int? = nil
do {
    var args = CommandLine.arguments.dropFirst()
    while let a = args.popFirst() {
        switch a {
        case "--ops":
            guard let s = args.popFirst(), let n = Int(s), n > 0 else {
                fputs("svm-bench: --ops needs a positive integer\n", stderr)
                exit(2)
            }
            targetOps = n
        case "--executor":
            // Optionally followed by a number of inputs.
            if let s = args.first, let n = Int(s), n > 0 { executorInputs = n; args.removeFirst() } else { executorInputs = 200_000 }
        case "--harness", "--length":
            guard let s = args.popFirst(), let n = Int(s), n > 0, a == "--harness" || n <= lengthProgramOps else {
                fputs("svm-bench: \(a) needs a positive integer\(a == "--length" ? " up to \(lengthProgramOps)" : "")\n", stderr)
                exit(2)
            }
            if a == "--harness" { harnessRoundCount = n } else { harnessLength = n }
        case "-h", "--help":
            print("""
                usage: svm-bench [--ops N]   (default 20000000)
                       svm-bench --executor [N]   (the fuzz harness on the corpus, default 200000 inputs; run from the repository root)
                       svm-bench --harness R [--length L]   (the fuzz harness, R untimed rounds over corpus/seeds, or over \(lengthProgramCount) clean programs of L operations; for valgrind)
                """)
            exit(0)
        default:
            fputs("svm-bench: unknown argument \(a)\n", stderr)
            exit(2)
        }
    }
}

if let r = harnessRoundCount {
    harnessRounds(rounds: r, length: harnessLength)
    exit(0)
}
if harnessLength != nil {
    fputs("svm-bench: --length goes with --harness\n", stderr)
    exit(2)
}

if let n = executorInputs {
    executorBench(inputs: n)
    exit(0)
}

// MARK: The mix

enum Op: Int, CaseIterable {
    case runBegin, runEnd, l1Wrmsr, vmrun, l2WrmsrEmulated, l2WrmsrVmexit, l2VmmcallVmexit, l2ClearSvme
    case stgi, clgi, getIoctl, setIoctl, reset

    var name: String {
        switch self {
        case .runBegin: return "run-begin"
        case .runEnd: return "run-end"
        case .l1Wrmsr: return "l1-wrmsr"
        case .vmrun: return "vmrun"
        case .l2WrmsrEmulated: return "l2-wrmsr-l0"
        case .l2WrmsrVmexit: return "l2-wrmsr-vmexit"
        case .l2VmmcallVmexit: return "l2-vmmcall-vmexit"
        case .l2ClearSvme: return "l2-clear-svme"
        case .stgi: return "stgi"
        case .clgi: return "clgi"
        case .getIoctl: return "get-ioctl"
        case .setIoctl: return "set-ioctl"
        case .reset: return "reset"
        }
    }
}

let hsavePa: UInt64 = 0x2000
let vmcb12Pa: UInt64 = 0x10000
/// A second vmcb12, the selftest's: no MSR_PROT, so L0 handles every L2 MSR write.
let selftestVmcb12Pa: UInt64 = 0x11000
let msrpmPa: UInt64 = 0x20000
/// L2's EFER: LME|LMA|NX|SVME.
let l2Efer: UInt64 = 0x1d00

/// vmcb12: intercepts VMRUN, VMMCALL and MSR_PROT; its MSRPM intercepts EFER writes only.
let vmcb12: Vmcb = {
    var v = Vmcb()
    v.control.intercepts = [.vmrun, .vmmcall, .msrProt]
    v.control.asid = 1
    v.control.msrpmBasePa = msrpmPa
    v.save.efer = l2Efer
    v.save.cr0 = 0x8000_0011
    v.save.cr3 = 0x3000
    v.save.cr4 = 0x20
    v.save.rip = 0x4000
    v.save.rsp = 0x9000
    return v
}()

let selftestVmcb12: Vmcb = {
    var v = vmcb12
    v.control.intercepts = [.vmrun, .vmmcall]
    return v
}()

/// Stops the benchmark: the core did not do what the cycle expects.
func diverged(_ what: String, _ line: UInt = #line) -> Never {
    fputs("svm-bench: the core diverged from the fixed cycle at line \(line): \(what)\n", stderr)
    exit(1)
}

struct Bench {
    var v: Vcpu
    var counts = [Int](repeating: 0, count: Op.allCases.count)
    var ops = 0
    var round = 0

    @inline(__always) mutating func count(_ op: Op) {
        counts[op.rawValue] &+= 1
        ops &+= 1
    }

    /// KVM_RUN starts and enters the guest at `mode`.
    @inline(__always) mutating func begin(_ mode: Mode) {
        v.kvmRunBegin()
        guard case .entered(let m) = v.vcpuEnterGuest(), m == mode else { diverged("run-begin") }
        count(.runBegin)
    }

    /// The VMM interrupts the run.
    @inline(__always) mutating func end() {
        v.kvmRunEnd(.intr)
        count(.runEnd)
    }

    /// One guest instruction that resumes the guest at `mode`.
    @inline(__always) mutating func insn(_ i: GuestInstruction, _ op: Op, _ mode: Mode) {
        guard v.runGuestInstruction(i) == .resume else { diverged("\(op.name) handling") }
        guard case .entered(let m) = v.vcpuEnterGuest(), m == mode else { diverged("\(op.name) entry") }
        count(op)
    }

    /// L1 turns on SVM: EFER.SVME and HSAVE_PA by guest WRMSR.
    mutating func l1Prologue() {
        insn(.wrmsr(msr: MSR.efer, value: v.efer | EFER.svme), .l1Wrmsr, .l1)
        insn(.wrmsr(msr: MSR.vmHsavePa, value: hsavePa), .l1Wrmsr, .l1)
    }

    /// Snapshot with the get ioctls, restore with the set ioctls in QEMU's order
    /// (sregs, nested state, regs, MSRs, events).
    mutating func saveRestore() {
        let sregs = v.getSregs()
        let nested = v.getNestedState()
        let regs = v.getRegs()
        let msrs = v.getMsrs()
        let events = v.getVcpuEvents()
        for _ in 0..<5 { count(.getIoctl) }
        guard v.setSregs(sregs) == .ok, v.setNestedState(nested) == .ok, v.setRegs(regs) == .ok,
              v.setMsr(MSR.vmHsavePa, msrs.hsavePa) == .ok, v.setVcpuEvents(events) == .ok
        else { diverged("restore") }
        for _ in 0..<5 { count(.setIoctl) }
    }

    /// The occasional reset: L2 clears EFER.SVME without an intercept (KVM_EXIT_SHUTDOWN on `merged`),
    /// and the VMM INIT-resets the vCPU and puts it back in 64-bit L1.
    mutating func shutdownAndReset() {
        begin(.l1)
        insn(.vmrun(gpa: selftestVmcb12Pa), .vmrun, .l2)
        guard v.runGuestInstruction(.wrmsr(msr: MSR.efer, value: l2Efer & ~EFER.svme)) == .resume,
              v.vcpuEnterGuest() == .exit(.shutdown) else { diverged("l2-clear-svme") }
        v.kvmRunEnd(.shutdown)
        count(.l2ClearSvme)
        v.kvmVcpuReset(initEvent: true)
        count(.reset)
        guard v.setSregs(Vcpu.initialSregs) == .ok, v.setRegs(Vcpu.initialRegs) == .ok else { diverged("reset") }
        for _ in 0..<2 { count(.setIoctl) }
        begin(.l1)
        l1Prologue()
        end()
    }

    /// One round of the fixed cycle, from and back to: outside KVM_RUN, in L1 with SVM on.
    mutating func cycle() {
        begin(.l1)
        insn(.vmrun(gpa: vmcb12Pa), .vmrun, .l2)
        insn(.wrmsr(msr: MSR.star, value: 0x1234), .l2WrmsrEmulated, .l2)
        insn(.wrmsr(msr: MSR.efer, value: l2Efer), .l2WrmsrVmexit, .l1)      // #VMEXIT(MSR)
        insn(.stgi, .stgi, .l1)
        insn(.vmrun(gpa: vmcb12Pa), .vmrun, .l2)
        insn(.wrmsr(msr: MSR.lstar, value: 0x5678), .l2WrmsrEmulated, .l2)
        insn(.vmmcall, .l2VmmcallVmexit, .l1)                                 // #VMEXIT(VMMCALL)
        insn(.clgi, .clgi, .l1)
        insn(.stgi, .stgi, .l1)
        insn(.vmrun(gpa: vmcb12Pa), .vmrun, .l2)
        end()
        saveRestore()
        begin(.l2)
        insn(.vmmcall, .l2VmmcallVmexit, .l1)
        insn(.stgi, .stgi, .l1)
        end()
        round &+= 1
        if round & 63 == 0 { shutdownAndReset() }
    }
}

// MARK: Setup: a 64-bit L1 with SVM on, vmcb12 and its MSRPM in guest memory.

var bench = Bench(v: Vcpu.makeL1(config: VcpuConfig(variant: .default)))
guard bench.v.writeGuestVmcb(vmcb12Pa, vmcb12), bench.v.writeGuestVmcb(selftestVmcb12Pa, selftestVmcb12),
      bench.v.writeGuestMsrpm(msrpmPa, MsrpmImage(reads: 0, writes: 1))
else { diverged("setup") }
bench.begin(.l1)
bench.l1Prologue()
bench.end()
bench.ops = 0
for i in bench.counts.indices { bench.counts[i] = 0 }

// MARK: Timed loop

let clock = ContinuousClock()
let start = clock.now
while bench.ops < targetOps { bench.cycle() }
let elapsed = clock.now - start

let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
let mops = Double(bench.ops) / seconds / 1e6
/// Fixed-point formatting without Foundation.
func fmt(_ x: Double, _ digits: Int) -> String {
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    let n = Int((x * Double(scale)).rounded())
    let frac = String(n % scale)
    return "\(n / scale)." + String(repeating: "0", count: digits - frac.count) + frac
}
print("core: \(bench.ops) ops in \(fmt(seconds, 3)) s = \(fmt(mops, 2)) Mops/s")
let mix = Op.allCases.map { "\($0.name) \(fmt(Double(bench.counts[$0.rawValue]) * 100 / Double(bench.ops), 1))%" }
print("mix: " + mix.joined(separator: ", "))
print("rounds: \(bench.round), resets: \(bench.counts[Op.reset.rawValue]), variant: \(Variant.default.rawValue), final mode: \(bench.v.mode), rip: 0x\(String(bench.v.rip, radix: 16))")
