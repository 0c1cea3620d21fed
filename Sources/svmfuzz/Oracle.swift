// svmfuzz oracle: run programs on the model and on real KVM (scripts/kvm-oracle.sh boots a Debian
// kernel under QEMU/TCG) and report, per program, whether they agree and where they first differ.

import ArgumentParser
import Foundation
import SVMFuzzKit
import SVMModel

struct Oracle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the model with real KVM, program by program.",
        discussion: """
        Lowers each program to a plan (svmfuzz kvm-plan), replays the plans on real KVM with \
        scripts/kvm-oracle.sh (one QEMU/TCG boot of the chosen Debian kernel), runs the same programs on \
        the model configured as that kernel (variant linux-<kernel>, on a host without NRIPS and VLS as \
        QEMU's TCG is, so the guest has no NRIPS either), and compares every step (PLAN.md lists the fields). Disagreements listed in \
        corpus/oracle-known.txt are shown with their cause. Exit status: 0 when every program agrees or \
        its disagreement is known; 1 otherwise; 2 on bad input.
        """)

    @Argument(help: "Programs (.svm) or directories searched for them.")
    var paths: [String]

    @Option(help: "The Debian kernel: 6.1 or 6.12.")
    var kernel: String = "6.12"

    @Option(help: "The model variant to compare with (default: linux-<kernel>).")
    var variant: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Change the model's fix set (programs' own fixes= and variants are ignored: the kernel is what it is).", valueName: "+a,-b"))
    var fixes: String?

    @Option(help: ArgumentHelp("Give the model the EFER.SVME policy of this variant (for a kernel built with --kvm-patch scripts/kvm-patches/<variant>.patch).", valueName: "variant"))
    var svmeClearOf: String?

    @Option(help: ArgumentHelp("Compare with the records already in this folder instead of booting.", valueName: "dir"))
    var records: String?

    @Flag(help: "Model a host CPU with NextRIP save (kvm_amd nrips=1), for --records made on such a host; QEMU's TCG has none.")
    var hostNrips = false

    @Flag(help: "Model a host CPU with virtual VMLOAD/VMSAVE (kvm_amd vls=1), for --records made on such a host.")
    var hostVls = false

    @Option(help: ArgumentHelp("The guest CPU's MAXPHYADDR and CR4 features: qemu64 (QEMU's TCG CPU, the oracle's) or epyc (48 bits, SMEP, SMAP, ...), for --records made on an AMD host.", valueName: "cpu"))
    var cpu: String = "qemu64"

    @Option(help: ArgumentHelp("Where to keep plans and records (default .build-kvm/oracle-<kernel>).", valueName: "dir"))
    var work: String?

    @Option(help: ArgumentHelp("A patch to KVM applied to the kernel's source (scripts/kvm-oracle.sh --kvm-patch).", valueName: "file"))
    var kvmPatch: String?

    @Option(help: ArgumentHelp("Known disagreements (default corpus/oracle-known.txt).", valueName: "file"))
    var known: String?

    @Flag(help: "Print one JSON object per program and a summary object.")
    var json = false

    func run() throws {
        guard ["6.1", "6.12"].contains(kernel) else { throw BadInput("svmfuzz: --kernel takes 6.1 or 6.12 (got '\(kernel)')") }
        let root = Repo.root()
        let programs = try ProgramFiles.collect(paths)
        guard !programs.isEmpty else { throw BadInput("svmfuzz: no .svm programs under \(paths.joined(separator: " "))") }
        let model = try self.model()              // bad --variant / --fixes / --svme-clear-of: exit 2 before booting
        let knownList = try KnownDisagreements.load(known ?? root + "/corpus/oracle-known.txt", required: known != nil)

        // Why a program is not played (nil: played), decided once for the plans and the comparison.
        var loaded: [(path: String, plan: String, program: Program, skip: String?)] = []
        for p in programs {
            let program = try Input.loadText(p)
            loaded.append((p, ProgramFiles.planName(p), program, Oracle.notPlayed(program, model: model)))
        }
        let recordsDir: String
        if let records {
            recordsDir = records
        } else {
            let dir = work ?? root + "/.build-kvm/oracle-\(kernel)"
            let plans = dir + "/plans", out = dir + "/records"
            try? FileManager.default.removeItem(atPath: plans)
            try FileManager.default.createDirectory(atPath: plans, withIntermediateDirectories: true)
            for l in loaded where l.skip == nil {
                try Files.write(KvmPlan.lower(l.program, name: l.path), to: plans + "/" + l.plan + ".plan")
            }
            try boot(root: root, plans: plans, out: out)
            recordsDir = out
        }

        let described = model.variant.rawValue + (fixes.map { " fixes=" + $0 } ?? "")
            + (hostNrips ? " host-nrips" : "") + (hostVls ? " host-vls" : "") + (cpu == "qemu64" ? "" : " cpu=" + cpu)
            + (svmeClearOf.map { " svme-clear-of=" + $0 } ?? "") + (kvmPatch.map { " (kernel patched: \($0))" } ?? "")
        var summary = OracleSummary(kernel: kernel, variant: described)
        for l in loaded {
            let result = compare(l.path, l.program, skip: l.skip, records: recordsDir + "/" + l.plan + ".jsonl",
                                 model: model, known: knownList)
            summary.add(result)
            if json { print(result.json) } else { print(result.line) }
        }
        if json { print(summary.json) } else { print(summary.line) }
        if summary.failed > 0 { throw Finish(code: 1) }
    }

    /// Whether the program, as the model plays it, runs guest code in 16-bit mode in a way that stalls
    /// the whole TCG VM: any guest instruction in real mode (CR0.PE clear outside SMM: after a reset, an
    /// INIT, a SET ioctl), and in SMM any but a WRMSR or RSM that does not fault (the SMM code the
    /// corpus agrees through; SVM instructions #UD there, and a VMMCALL stalled too). At such stalls
    /// QEMU's monitor shows the L0 kernel's context (CPL 0, 64-bit CS, EFER.LMA=1) holding the L1
    /// guest's 16-bit CR0 (0x10 after a reset; 0x50032, KVM's SMM CR0 of an 0x80050033 guest), a state
    /// no x86 CPU can be in, fetching from unbacked memory; hardware loads the host CR0 from the host
    /// save area at every #VMEXIT. So they are a TCG limit, not KVM's, and the oracle does not play them.
    static func stallsTcg(_ p: Program, model: OracleModel = OracleModel(variant: .linux612)) -> Bool {
        limits(p, model: model).stalls
    }

    /// What keeps the runner under TCG from playing a program as the model does, found in one replay
    /// on the model (`limits`).
    struct PlayLimits: Equatable {
        /// stallsTcg (above); the replay ends at the first stall.
        var stalls = false
        /// The model lets L1 set EFER.LMSLE (both Debian kernels accept it, fix disallow-lmsle-when-mbz
        /// missing), which QEMU's TCG CPU lacks, so KVM's next VMRUN of the vCPU fails and every such
        /// program differs at its next entry for TCG's reason, not KVM's or the model's
        /// (corpus/oracle-confirm/wrmsr-efer-lmsle.svm shows it once, on both kernels).
        var setsLmsle = false
        /// The first step that runs guest code at a RIP where the runner has no interpreter (a RIP
        /// userspace set, or a vmcb12 RIP the runner could not place): there the runner's CPU fetches
        /// other bytes (a #PF beyond the identity map), while the model runs the step's instruction.
        var outsideRunner: StepAddress? = nil
        /// The first VMRUN of a page the program never wrote a vmcb to but the runner filled with its
        /// own tables or code (KvmPlan.runnerFilledPages: the IVT at 0, a PML4, an interpreter copy):
        /// real KVM reads those bytes as vmcb12 (and the runner's record of its exit code), the model
        /// zeros (an oracle campaign's `vmrun 0` showed 0xf000e188f000e180, two IVT entries).
        var vmrunOfRunnerPage: StepAddress? = nil
        /// The first KVM_SET_SREGS (or sync_sregs) that leaves long mode (EFER.LME or CR0.PG clear)
        /// while the vCPU runs the runner's 64-bit code: the runner keeps its CS with L=1, which
        /// kvm_is_valid_sregs refuses without EFER.LMA (-EINVAL), where the model, which has no
        /// segments, takes the registers (a VMM would load a matching CS).
        var leavesLongModeWithRunnerCs: Int? = nil
        /// The first guest instruction that a `signal` precedes while the guest runs: the model lets
        /// the instruction run and the signal end KVM_RUN at the next entry (before a queued exception
        /// or the first entry into L2), the runner's signal ends the KVM_RUN it starts for the
        /// instruction, before it (PLAN.md: the runner cannot interrupt between the two).
        var signalInsideRun: Int? = nil
        /// The first step that runs L1 code with paging where the runner has no page tables: outside
        /// long mode (legacy or PAE paging, after a reset or a KVM_SET_SREGS: the runner has 64-bit
        /// tables and code only; a triple fault on real KVM after `reset` and `sync_sregs
        /// cr0=0x80000011`), or on a CR3 it placed no PML4 at (KvmPlan.placesCr3: `sync_sregs
        /// cr3=0x100000000` hung real KVM). The model has no page tables. (L2 entered outside long mode
        /// is judged with the entries of corpus/oracle-known.txt, which show what real KVM did up to there.)
        var l1PagingWithoutRunnerTables: Int? = nil
        /// The first entry that injects exception vector 31 (queued by userspace, or vmcb12's
        /// EVENTINJ): QEMU's VMRUN refuses exception vectors from 31 up where hardware refuses them
        /// from 32 (`vector >= 31` in helper_vmrun), so real KVM under TCG gets VMEXIT_INVALID
        /// (KVM_EXIT_FAIL_ENTRY for L1's own entry; a campaign's `exception=0x1f` showed it).
        var injectsVector31: Int? = nil
        /// The first VMRUN that enters an L2 with paging on a CR3, or with nested paging on an nCR3,
        /// where the runner placed no PML4 (KvmPlan.placesCr3: vmcb12 CR3 0 is the IVT's page): its
        /// first fetch walks other bytes, and real KVM shuts down (or, for nCR3, hands L1 a nested
        /// page fault: a campaign's `np=1 ncr3=0`), where the model has no page tables.
        var l2Cr3NotPlaced: Int? = nil
        /// The first exception delivered while RSP is one the program set outside the low RAM the
        /// runner leaves to programs (KvmPlan.stackUsable): the CPU pushes the frame there and faults
        /// into a triple fault on real KVM (a campaign's `sync_regs rsp=0x1` then a #UD), where the
        /// model has no stack.
        var exceptionOnProgramStack: Int? = nil
        /// The first step that runs guest code with RFLAGS.VM set in long mode (EFER.LMA): the CPU
        /// ignores VM in long mode (virtual-8086 mode does not exist there), QEMU's TCG takes the
        /// flag loaded by VMRUN as is and runs the 64-bit code as virtual-8086 code, so real KVM under
        /// TCG shuts down at the next instruction (a campaign's `set_regs rflags=0x20002`, three times).
        var vm86InLongMode: Int? = nil
        /// The first restore of a snapshot taken while L2 ran outside long mode: the runner enters every
        /// L2 with its 64-bit CS (CS.L set), which KVM_SET_SREGS refuses without EFER.LMA (-EINVAL),
        /// where the model, which has no segments, restores the registers (a restore the model refuses
        /// for its own reasons agrees, and is played: the oracle-confirm programs of such L2s).
        var restoresL2WithRunnerCs: Int? = nil
        /// The first vmcb or MSR permission map written over L1's page table (the runner's PML4 at
        /// 0x1000): the runner's L1 code faults at its next fetch and KVM shuts the VM down (a campaign's
        /// `msrpm 0`, 8 KiB over the IVT and the PML4), where the model has no page tables.
        var overwritesL1PageTable: Int? = nil
        /// The first KVM_RUN without a modeled instruction (`run`) with RFLAGS.TF set: the runner's own
        /// code single-steps and its stubs see #DB, where the model runs no instruction (a campaign's
        /// `reset` then `run sync_regs rflags=0x102`).
        var singleStepsRunnerCode: Int? = nil

        var isClear: Bool { self == PlayLimits() }

        /// A step and the address (RIP or GPA) that makes it unplayable.
        struct StepAddress: Equatable {
            var step: Int
            var address: UInt64
        }
    }

    /// The program's PlayLimits as the model plays it. `svmfuzz generate` leaves out programs with any.
    static func limits(_ p: Program, model: OracleModel = OracleModel(variant: .linux612)) -> PlayLimits {
        var ex = Executor(config: model.config(p))
        ex.stopsStepAtViolation = false              // as the comparison plays it (Observer asKernel)
        ex.readsStateAtEveryStep = true
        var found = PlayLimits()
        let starts = KvmPlan.interpreterStarts(p)
        // L1's RIP in the model is abstract (it starts at 0x1000, the runner's at its interpreter), so
        // only a RIP the program itself sets, and L2's when VMRUN enters it (vmcb12's RIP, where the
        // runner places a copy), are addresses both sides share. SMM's interpreter is the runner's own.
        var ripFromProgram = false
        var rspFromProgram = false
        let runnerPages = KvmPlan.runnerFilledPages(p)
        var signalled = false
        var written: Set<UInt64> = []
        var l2OutsideLongMode: Set<Slot> = []
        func checkRip(_ step: Int, in starts: [UInt64]) {
            guard found.outsideRunner == nil, !ex.vcpu.getVcpuEvents().smm else { return }
            let rip = ex.vcpu.getRegs().rip
            if !KvmPlan.runsInterpreter(rip, starts: starts) { found.outsideRunner = .init(step: step, address: rip) }
        }
        for (i, op) in p.operations.enumerated() {
            let sixteenBit = ex.vcpu.getSregs().cr0 & CR0.pe == 0
            let smm = ex.vcpu.getVcpuEvents().smm
            if op.isGuestInstruction && sixteenBit && !smm { found.stalls = true; return found }
            if op.runsGuestCode && !sixteenBit && ripFromProgram { checkRip(i + 1, in: starts) }
            func checkPaging() {
                let sr = ex.vcpu.getSregs()
                if found.l1PagingWithoutRunnerTables == nil && ex.vcpu.mode == .l1
                    && sr.cr0 & CR0.pg != 0 && (sr.efer & EFER.lma == 0 || !KvmPlan.placesCr3(sr.cr3)) {
                    found.l1PagingWithoutRunnerTables = i + 1
                }
            }
            if op.runsGuestCode { checkPaging() }
            switch op {
            case .vmcb(let gpa, _) where gpa & GuestPhys.pageMask == KvmPlan.l1Pml4,
                 .msrpm(let gpa, _) where [0, GuestPhys.pageSize].contains { (gpa & GuestPhys.pageMask) &+ $0 == KvmPlan.l1Pml4 }:
                if found.overwritesL1PageTable == nil { found.overwritesL1PageTable = i + 1 }
            default: break
            }
            switch op {
            case .vmcb(let gpa, _): written.insert(gpa & GuestPhys.pageMask)
            case .guest(.vmrun(let gpa)), .emulate(.vmrun(let gpa)):
                let page = gpa & GuestPhys.pageMask
                if found.vmrunOfRunnerPage == nil && runnerPages.contains(page) && !written.contains(page) {
                    found.vmrunOfRunnerPage = .init(step: i + 1, address: gpa)
                }
            default: break
            }
            let sregsPatch: SregsPatch?
            switch op {
            case .setSregs(let p): sregsPatch = p
            case .runWith(let w): sregsPatch = w.sregs
            default: sregsPatch = nil
            }
            let signalInsideRun: Bool
            switch op {
            case .signal: signalled = true; signalInsideRun = false
            case .guest, .emulate: signalInsideRun = signalled && ex.inRun; signalled = false
            case .run: signalled = false; signalInsideRun = false
            case .runWith(let w) where !w.immediateExit: signalled = false; signalInsideRun = false
            default: signalInsideRun = false
            }
            var leavesLongMode = false
            if let patch = sregsPatch, !smm {
                let now = ex.vcpu.getSregs(), new = patch.completed(now)
                leavesLongMode = now.efer & EFER.lma != 0 && (new.efer & EFER.lme == 0 || new.cr0 & CR0.pg == 0)
            }
            func checkVm86() {
                if found.vm86InLongMode == nil && ex.vcpu.getRegs().rflags & RFLAGS.vm != 0
                    && ex.vcpu.getSregs().efer & EFER.lma != 0 { found.vm86InLongMode = i + 1 }
            }
            if op.runsGuestCode { checkVm86() }
            switch op {
            case .snapshot(let slot):
                if ex.vcpu.mode == .l2 && ex.vcpu.getSregs().efer & EFER.lma == 0 {
                    l2OutsideLongMode.insert(slot)
                } else {
                    l2OutsideLongMode.remove(slot)
                }
            default: break
            }
            var restoresL2OutsideLongMode = false
            if case .restore(let slot, _, _) = op { restoresL2OutsideLongMode = l2OutsideLongMode.contains(slot) }
            let modeBefore = ex.vcpu.mode, ripBefore = ex.vcpu.getRegs().rip, initBefore = ex.vcpu.initPending
            let rspBefore = ex.vcpu.getRegs().rsp
            let r = ex.execute(op)
            // KVM_RUN with sync_regs runs guest code on the flags it loads (a VMRUN into L2: below).
            if case .runWith = op, op.runsGuestCode { checkVm86() }
            switch op {
            case .run, .runWith:
                if op.runsGuestCode && found.singleStepsRunnerCode == nil && r.exit != .shutdown
                    && ex.vcpu.getRegs().rflags & RFLAGS.tf != 0 { found.singleStepsRunnerCode = i + 1 }
            default: break
            }
            // The two orders differ only where the instruction left something for the next entry: an
            // exception to deliver, the first entry into L2, an event to service.
            if signalInsideRun && found.signalInsideRun == nil && r.exit == .intr
                && (ex.vcpu.exception != nil || ex.vcpu.nestedRunPending != 0 || ex.vcpu.requests.contains(.event)) {
                found.signalInsideRun = i + 1
            }
            let deliveredVector31 = r.delivered.map {
                $0.eventInj & EventInj.typeMask == EventInj.typeExept && $0.eventInj & EventInj.vectorMask == 31
            } ?? false
            if found.injectsVector31 == nil && (r.injected == 31 || deliveredVector31) { found.injectsVector31 = i + 1 }
            // Only where the model takes the registers: a set it refuses for its own reasons agrees.
            if leavesLongMode && r.ioctlResult == .ok && found.leavesLongModeWithRunnerCs == nil {
                found.leavesLongModeWithRunnerCs = i + 1
            }
            if restoresL2OutsideLongMode && r.ioctlResult == .ok && found.restoresL2WithRunnerCs == nil {
                found.restoresL2WithRunnerCs = i + 1
            }
            if ex.vcpu.getSregs().efer & EFER.lmsle != 0 { found.setsLmsle = true }
            if r.injected != nil && rspFromProgram && found.exceptionOnProgramStack == nil
                && !KvmPlan.stackUsable(ex.vcpu.getRegs().rsp) { found.exceptionOnProgramStack = i + 1 }
            switch op {
            case .setRegs(let g) where g.rsp != nil: rspFromProgram = true
            case .runWith(let w) where w.regs?.rsp != nil: rspFromProgram = true
            case .restore:
                // A restore refused before its regs step keeps the program's RSP (as for RIP below).
                if ex.vcpu.getRegs().rsp != rspBefore { rspFromProgram = false }
            case .reset, .destroy: rspFromProgram = false
            default: break
            }
            switch op {
            case .setRegs(let g) where g.rip != nil: ripFromProgram = ex.vcpu.getRegs().rip == g.rip
            case .runWith(let w):
                // The same KVM_RUN runs the guest on the registers it just set.
                if w.sregs != nil && op.runsGuestCode { checkPaging() }
                if w.regs?.rip != nil {
                    ripFromProgram = ex.vcpu.getRegs().rip == w.regs?.rip
                    if ripFromProgram && op.runsGuestCode && ex.vcpu.getSregs().cr0 & CR0.pe != 0 { checkRip(i + 1, in: starts) }
                }
            case .restore:
                // A snapshot holds the runner's own RIP; a restore refused before its regs step keeps
                // the program's (a campaign's `restore C` of a slot never taken).
                if ex.vcpu.getRegs().rip != ripBefore { ripFromProgram = false }
            case .reset, .destroy:
                ripFromProgram = false       // reset's RIP is its own
            case .guest, .emulate:
                if ex.vcpu.getRegs().rip != ripBefore { ripFromProgram = false }   // execution moved it
            default: break
            }
            // A VMRUN that enters L2 runs L2's code at vmcb12's RIP within the same step.
            switch op {
            case .guest(.vmrun), .emulate(.vmrun):
                if modeBefore != .l2 && ex.vcpu.mode == .l2 {
                    checkRip(i + 1, in: Array(starts.dropFirst()))
                    checkVm86()
                    let sr = ex.vcpu.getSregs()
                    let ctl = ex.vcpu.nested.ctl
                    let npt = ctl.miscCtl & MiscCtl.enableNp != 0
                    if found.l2Cr3NotPlaced == nil && ((sr.cr0 & CR0.pg != 0 && !KvmPlan.placesCr3(sr.cr3))
                                                       || (npt && !KvmPlan.placesCr3(ctl.nestedCr3))) {
                        found.l2Cr3NotPlaced = i + 1
                    }
                }
            default: break
            }
            // An INIT latched before the instruction is taken at its entry: the instruction then runs
            // in the reset state's 16-bit code (a campaign's `init` then `vmload`: an I/O exit on real KVM).
            if op.isGuestInstruction && initBefore && !ex.vcpu.initPending && !sixteenBit && r.ran != .none
                && ex.vcpu.getSregs().cr0 & CR0.pe == 0 && !ex.vcpu.getVcpuEvents().smm { found.stalls = true; return found }
            guard case .guest(let insn) = op, sixteenBit, smm else { continue }
            switch insn {
            case .wrmsr, .rsm: if r.injected != nil { found.stalls = true; return found }
            default: found.stalls = true; return found
            }
        }
        return found
    }

    /// Why the oracle does not play a program, or nil when it does.
    static func notPlayed(_ p: Program, model: OracleModel) -> String? {
        if !runnable(p) {
            return "module parameters differ from the oracle's boot (nested=1 npt=1 vgif=1), or lm=0 (the runner has no 32-bit L1)"
        }
        let limits = limits(p, model: model)
        if limits.stalls { return "a guest instruction runs in 16-bit code, which stalls the TCG VM (Oracle.stallsTcg)" }
        let hex = { (v: UInt64) in "0x" + String(v, radix: 16) }
        let reasons: [(step: Int?, text: String)] = [
            (limits.outsideRunner?.step, "runs guest code at RIP \(limits.outsideRunner.map { hex($0.address) } ?? ""), where the runner has no code"),
            (limits.leavesLongModeWithRunnerCs, "leaves long mode by KVM_SET_SREGS while the runner's CS is 64-bit, which KVM refuses"),
            (limits.exceptionOnProgramStack, "delivers an exception on a stack the program set where the runner cannot push"),
            (limits.l2Cr3NotPlaced, "enters L2 with paging on a CR3 (or nested paging on an nCR3) where the runner has no page table"),
            (limits.injectsVector31, "injects exception vector 31, which QEMU's VMRUN refuses"),
            (limits.restoresL2WithRunnerCs, "restores a snapshot of L2 outside long mode, whose 64-bit CS (the runner's) KVM_SET_SREGS refuses"),
            (limits.overwritesL1PageTable, "writes guest memory over L1's page table (the runner's PML4 at 0x1000)"),
            (limits.singleStepsRunnerCode, "runs the guest with RFLAGS.TF set, which single-steps the runner's own code"),
            (limits.vm86InLongMode, "runs guest code with RFLAGS.VM in long mode, which the CPU ignores and QEMU's TCG does not"),
            (limits.l1PagingWithoutRunnerTables, "runs L1 code with paging where the runner has no page tables"),
            (limits.signalInsideRun, "runs a guest instruction after a signal while the guest runs, which the runner cannot interrupt after the instruction"),
            (limits.vmrunOfRunnerPage?.step, "runs VMRUN of \(limits.vmrunOfRunnerPage.map { hex($0.address) } ?? ""), a page the runner fills and the program never wrote"),
        ]
        if let first = reasons.first(where: { $0.step != nil }), let step = first.step {
            return "step \(step) \(first.text) (Oracle.PlayLimits)"
        }
        return nil
    }

    /// The module parameters the oracle boots with (nested=1 npt=1 vgif=1); other programs are not run.
    /// The runner also has no 32-bit L1 (config lm=0): it sets up its 64-bit L1, which KVM_SET_SREGS
    /// refuses without long mode in CPUID, and plays on from the reset state (two of the campaign's
    /// VM stalls were such programs).
    static func runnable(_ p: Program) -> Bool {
        let c = p.config.vcpuConfig()
        return c.nested && c.npt && c.vgif && p.config.lm != false
    }

    /// The model the kernel is compared with: --variant (default linux-<kernel>) with --fixes and
    /// --svme-clear-of applied, parsed once.
    func model() throws -> OracleModel {
        let v = try variant.map { try VariantNames.parse($0) } ?? OracleModel.variant(ofKernel: kernel)
        return OracleModel(variant: v, fixes: try FixNames.parse(fixes),
                           svmeClear: try svmeClearOf.map { try VariantNames.parse($0).svmeClear },
                           hostNrips: hostNrips, hostVls: hostVls, cpu: try OracleModel.cpu(named: cpu))
    }

    /// `skip`: Oracle.notPlayed of the program (nil: it was played).
    func compare(_ path: String, _ program: Program, skip: String?, records: String, model: OracleModel,
                 known: [KnownDisagreements.Entry]) -> OracleResult {
        var r = OracleResult(program: path)
        if let skip {
            r.status = .notRun(skip)
            return r
        }
        guard let bytes = try? Files.read(records), let text = String(bytes: bytes, encoding: .utf8) else {
            r.status = .noRecords
            return r
        }
        let kernelRun = KernelRun.parse(text)
        r.warnings = kernelRun.warnings
        let (report, steps) = Observer.run(program, config: model.config(program), asKernel: true)
        // A field that only observes (whose code RIP is in, the vector a stub saw) and that a runner or
        // TCG limit explains is set aside and the comparison goes on; any other known difference means
        // the two have parted ways, and ends it.
        var ignored: Set<String> = []
        var explained: (OracleDifference, KnownDisagreements.Entry)? = nil
        var (diff, unsupported) = OracleCompare.firstDifference(model: steps, kernel: kernelRun)
        while let d = diff, let k = known.first(where: { $0.matches(path: path, kernel: kernel, difference: d) }),
              ["runner", "tcg"].contains(k.cause), ["rip_owner", "exc"].contains(d.field), !ignored.contains(d.field) {
            if explained == nil { explained = (d, k) }
            ignored.insert(d.field)
            (diff, unsupported) = OracleCompare.firstDifference(model: steps, kernel: kernelRun, ignoring: ignored)
        }
        // WARN sites: the model's are per program, the kernel's WARN_ON_ONCE print once per boot, so
        // only a kernel WARNING the model did not predict is a difference.
        let modelWarns = report.finalState.vcpu.warnings.sites.map(\.name)
        r.modelWarnings = modelWarns
        if diff == nil, unsupported == nil, modelWarns.isEmpty, let w = kernelRun.warnings.first(where: { $0.contains("WARNING") || $0.contains("BUG") }) {
            diff = OracleDifference(step: steps.count, line: 0, operation: "(whole program)", field: "warn", model: "none", kernel: w)
        }
        if let d = diff {
            if let k = known.first(where: { $0.matches(path: path, kernel: kernel, difference: d) }) {
                r.status = .known(d, k)
            } else {
                r.status = .disagree(d)
            }
        } else if let (d, k) = explained {
            r.status = .known(d, k)
        } else if let s = unsupported {
            r.status = .agreeUntil(s)
        } else {
            r.status = .agree(steps.count)
        }
        return r
    }

    func boot(root: String, plans: String, out: String) throws {
        var args = [root + "/scripts/kvm-oracle.sh", "--kernel", kernel, "--plans", plans, "--out", out]
        if let kvmPatch { args += ["--kvm-patch", kvmPatch] }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = args
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw BadInput("svmfuzz: scripts/kvm-oracle.sh failed (exit \(p.terminationStatus)); its log is in \(out)")
        }
    }
}

/// The model as a kernel: a variant with --fixes and --svme-clear-of applied, on the oracle's host.
struct OracleModel {
    var variant: Variant
    var fixes: FixDelta? = nil
    var svmeClear: SvmeClearPolicy? = nil
    /// The host's NRIPS and VLS: QEMU's TCG has neither (kvm_amd reports nrips=0, vls=0 there).
    var hostNrips = false
    var hostVls = false
    /// The guest CPU's MAXPHYADDR and CR4 features: QEMU's TCG CPU (qemu64) unless the records come
    /// from an AMD host.
    var cpu: GuestCpu = .qemu64

    /// `--cpu`: qemu64 or epyc.
    static func cpu(named name: String) throws -> GuestCpu {
        switch name {
        case "qemu64": return .qemu64
        case "epyc": return .epyc
        default: throw BadInput("svmfuzz: --cpu takes qemu64 or epyc (got '\(name)')")
        }
    }

    /// The variant describing a Debian kernel the oracle boots ("6.1" or "6.12").
    static func variant(ofKernel kernel: String) -> Variant { kernel == "6.1" ? .linux61 : .linux612 }

    /// The program's CPUID and module parameters (its own variant, fixes= and host features are ignored:
    /// the kernel and its host are what they are), on a host without NRIPS and VLS, so KVM offers the
    /// guest no NRIPS either, and with the host's MAXPHYADDR and CR4 features (`cpu`).
    func config(_ p: Program) -> VcpuConfig {
        var own = p.config
        own.variant = nil
        own.fixes = nil
        var c = own.vcpuConfig(variant: variant, fixes: fixes)
        if let svmeClear { c.svmeClear = svmeClear }
        c.hostNrips = hostNrips
        c.hostVls = hostVls
        c.cpu = cpu
        c.guestNrips = false
        return c
    }
}

/// The repository root: the nearest directory above the current one holding scripts/kvm-oracle.sh.
enum Repo {
    static func root() -> String {
        var dir = FileManager.default.currentDirectoryPath
        while dir != "/" && !dir.isEmpty {
            if FileManager.default.fileExists(atPath: dir + "/scripts/kvm-oracle.sh") { return dir }
            dir = (dir as NSString).deletingLastPathComponent
        }
        return FileManager.default.currentDirectoryPath
    }
}

enum ProgramFiles {
    /// The .svm files named or under the named directories, sorted, each once.
    static func collect(_ paths: [String]) throws -> [String] {
        var out: [String] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else {
                throw BadInput("svmfuzz: cannot read '\(p)': No such file or directory")
            }
            if isDir.boolValue {
                let base = p.hasSuffix("/") ? String(p.dropLast()) : p
                let found = (FileManager.default.subpaths(atPath: p) ?? []).filter { $0.hasSuffix(".svm") }
                out += found.sorted().map { base + "/" + $0 }
            } else {
                out.append(p)
            }
        }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }

    /// A file name for a program's plan and records: its path with '/' as '__', without `.svm`.
    static func planName(_ path: String) -> String {
        var p = path
        while p.hasPrefix("./") { p.removeFirst(2) }
        if p.hasSuffix(".svm") { p.removeLast(4) }
        return p.replacingOccurrences(of: "/", with: "__")
    }
}
