// Test support: drive the model the way KVM_RUN and a VMM would, and the fixed guest layout
// every scenario uses.

import XCTest
import SVMModel

/// Guest-physical layout of the scenarios.
enum Layout {
    static let hsave: UInt64 = 0x2000
    static let vmcb12: UInt64 = 0x10000
    static let msrpm: UInt64 = 0x20000
    /// Legal (below 2^48) but not backed by guest RAM.
    static let unmapped: UInt64 = 0x1_0000_0000
}

/// L1's state as Vcpu.makeL1 leaves it.
enum L1State {
    static let efer: UInt64 = EFER.sce | EFER.lme | EFER.lma | EFER.nx       // 0xd01
    static let cr0: UInt64 = 0x8005_0033
    static let cr3: UInt64 = 0x1000
    static let cr4: UInt64 = CR4.pae
    static let rip: UInt64 = 0x1000
    static let rsp: UInt64 = 0x8000
}

/// L2's state in the test vmcb12: every register differs from L1's, so a test can tell whose value
/// a register holds.
enum L2State {
    static let efer: UInt64 = EFER.lme | EFER.lma | EFER.nx | EFER.svme      // 0x1d00, no SCE
    static let cr0: UInt64 = 0x8000_0011                                     // PG|ET|PE
    static let cr3: UInt64 = 0x3000
    static let cr4: UInt64 = CR4.pae | (1 << 7)                              // PAE|PGE
    static let rip: UInt64 = 0x4000
    static let rsp: UInt64 = 0x9000
    static let rax: UInt64 = 0x1234
    static let rflags: UInt64 = RFLAGS.fixed | (1 << 6)                      // ZF
}

/// A vmcb12 that passes every VMRUN check: the field values of SVMFuzzKit's DefaultVmcb12
/// (intercepts VMRUN and VMMCALL only, ASID 1, no MSR_PROT), with L2State's registers.
func makeVmcb12(intercepts: InterceptSet = [.vmrun, .vmmcall], asid: UInt32 = 1,
                msrpm: UInt64 = 0, cpl: UInt8 = 0) -> Vmcb {
    var v = Vmcb()
    v.control.intercepts = intercepts
    v.control.asid = asid
    v.control.msrpmBasePa = msrpm
    v.save.efer = L2State.efer
    v.save.cr0 = L2State.cr0
    v.save.cr3 = L2State.cr3
    v.save.cr4 = L2State.cr4
    v.save.rip = L2State.rip
    v.save.rsp = L2State.rsp
    v.save.rax = L2State.rax
    v.save.rflags = L2State.rflags
    v.save.cpl = cpl
    return v
}

func makeL1(_ variant: Variant = .merged, nested: Bool = true, npt: Bool = true, vgif: Bool = true,
            guestSvm: Bool = true, guestLm: Bool = true, guestNrips: Bool = true, hostNrips: Bool = true,
            hostVls: Bool = true, cpu: GuestCpu = .epyc) -> Vcpu {
    var c = VcpuConfig(variant: variant, nested: nested, npt: npt, vgif: vgif,
                       guestSvm: guestSvm, guestLm: guestLm, guestNrips: guestNrips)
    c.hostNrips = hostNrips
    c.hostVls = hostVls
    c.cpu = cpu
    return Vcpu.makeL1(config: c)
}

/// What KVM_RUN did after one guest instruction.
enum Step: Equatable, CustomStringConvertible {
    /// The guest runs again at this level; the run continues.
    case entered(Mode)
    /// KVM_RUN returned to userspace with this exit reason (the run is over).
    case exit(ExitReason)
    /// KVM_RUN failed with this errno (the run is over).
    case error(Errno)

    var description: String {
        switch self {
        case .entered(let m): return "entered(\(m))"
        case .exit(let r): return "exit(\(r))"
        case .error(let e): return "error(\(e))"
        }
    }
}

/// KVM_RUN starts: kvmRunBegin, then the first entry. An immediate exit ends the run.
@discardableResult
func beginRun(_ v: inout Vcpu) -> Step {
    v.kvmRunBegin()
    return reenter(&v)
}

/// Re-enters the guest after a handler asked to resume; an exit ends the run.
@discardableResult
func reenter(_ v: inout Vcpu) -> Step {
    switch v.vcpuEnterGuest() {
    case .entered(let m): return .entered(m)
    case .exit(let r):
        v.kvmRunEnd(r)
        return .exit(r)
    case .cancelled:                         // only a signal cancels an entry; these helpers send none
        v.kvmRunEnd(.intr)
        return .exit(.intr)
    case .livelock:                          // the VMM's timer signal ends it
        v.kvmRunEnd(.hang)
        return .exit(.hang)
    }
}

/// The VMM interrupts the run (KVM_EXIT_INTR) so that it can issue ioctls.
func endRun(_ v: inout Vcpu) { v.kvmRunEnd(.intr) }

/// Inside a run with the guest entered: execute one instruction, handle its exit, and either
/// re-enter the guest or return to userspace.
@discardableResult
func exec(_ v: inout Vcpu, _ insn: GuestInstruction) -> Step {
    switch v.runGuestInstruction(insn) {
    case .resume:
        return reenter(&v)
    case .exitToUserspace(let r):
        v.kvmRunEnd(r)
        return .exit(r)
    case .error(let e):
        v.kvmRunEnd(.none)
        return .error(e)
    }
}

/// Executes instructions in order while the guest keeps running. Returns how many executed and the
/// last step; a run that ends early leaves the remaining instructions unexecuted.
func execAll(_ v: inout Vcpu, _ insns: [GuestInstruction]) -> (executed: Int, last: Step) {
    var last = Step.entered(v.mode)
    var n = 0
    for insn in insns {
        guard case .entered = last else { break }
        last = exec(&v, insn)
        n += 1
    }
    return (n, last)
}

/// L1 sets EFER.SVME by guest WRMSR.
func l1SetSvme(_ v: inout Vcpu, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.efer, value: v.efer | EFER.svme)), .entered(.l1), file: file, line: line)
    XCTAssertNotEqual(v.efer & EFER.svme, 0, file: file, line: line)
}

/// Starts a run on a fresh L1 vCPU and prepares VMRUN: L1 sets EFER.SVME and HSAVE_PA by guest
/// WRMSR and writes `vmcb12` (and optionally an MSR permission map) into guest memory.
func prepareVmrun(_ v: inout Vcpu, vmcb12: Vmcb = makeVmcb12(), msrpm: MsrpmImage? = nil,
                  file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(beginRun(&v), .entered(.l1), file: file, line: line)
    l1SetSvme(&v, file: file, line: line)
    XCTAssertEqual(exec(&v, .wrmsr(msr: MSR.vmHsavePa, value: Layout.hsave)), .entered(.l1), file: file, line: line)
    XCTAssertEqual(v.nested.hsaveMsr, Layout.hsave, file: file, line: line)
    XCTAssertTrue(v.writeGuestVmcb(Layout.vmcb12, vmcb12), file: file, line: line)
    if let m = msrpm { XCTAssertTrue(v.writeGuestMsrpm(vmcb12.control.msrpmBasePa, m), file: file, line: line) }
}

/// The whole L1 prologue of svm_nested_clear_efer_svme: set SVME and HSAVE_PA, write vmcb12, VMRUN.
/// Leaves the vCPU inside KVM_RUN with L2 entered.
func enterL2(_ v: inout Vcpu, vmcb12: Vmcb = makeVmcb12(), msrpm: MsrpmImage? = nil,
             file: StaticString = #filePath, line: UInt = #line) {
    prepareVmrun(&v, vmcb12: vmcb12, msrpm: msrpm, file: file, line: line)
    XCTAssertEqual(exec(&v, .vmrun(gpa: Layout.vmcb12)), .entered(.l2), file: file, line: line)
    XCTAssertEqual(v.mode, .l2, file: file, line: line)
    XCTAssertEqual(v.rip, vmcb12.save.rip, file: file, line: line)
}

/// The L1 RIP after the prologue's VMRUN (two 2-byte WRMSRs and a 3-byte VMRUN from 0x1000).
let l1RipAfterVmrun: UInt64 = L1State.rip + 2 + 2 + 3

extension Vcpu {
    /// The vmcb12 page as L1 would read it.
    var vmcb12InMemory: Vmcb { readGuestVmcb(Layout.vmcb12)! }
}
