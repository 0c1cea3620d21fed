// vmrun-outcome (bug zoo INV-CC): the VMRUN consistency-check oracle.
//
// APM vol. 2, 15.5.1 "Basic Operation" lists the vmcb12 states for which VMRUN fails with
// #VMEXIT(INVALID) (exit code -1), leaving GIF clear and executing no guest instruction: EFER.SVME
// clear; CR0.CD clear with CR0.NW set; CR0[63:32], DR6[63:32] or DR7[63:32] nonzero; reserved CR4 / EFER bits set;
// EFER.LME and CR0.PG with CR4.PAE or CR0.PE clear, or with an illegal CR3; EFER.LME, CR0.PG,
// CR4.PAE, CS.L and CS.D all set; the VMRUN intercept clear; ASID 0; an MSR or I/O permission map
// beyond the physical address width; with nested paging, an illegal nCR3; an EVENTINJ marked valid
// with an undefined type or, for type exception, a vector that is no exception (15.20); V_NMI_ENABLE
// without the NMI intercept (NMI virtualization, as AMD stated it with KVM's check in 0977cfac6e76,
// which KVM applies whatever the guest's CPUID). Nothing else fails it
// (KVM follows the APM list and drops non-architectural checks). So a VMRUN in L1 that got past
// the instruction's own faults (no exception, no exit to userspace) ends in #VMEXIT(INVALID)
// exactly when its vmcb12 is on that list. Excluded from the "valid ⇒ no INVALID" direction: the
// two failures after the checks that are KVM's and not the APM's to define (L1's MSR permission
// map or legacy-PAE PDPTEs not backed by memory), where KVM also synthesizes VMEXIT_INVALID.
//
// And whatever vmcb12 holds, even when it cannot be read at all (APM vol. 2, 15.5 "VMRUN
// Instruction"): VMRUN in L1 raises an exception, starts the guest, or ends in a #VMEXIT
// (VMEXIT_INVALID written to vmcb12); KVM may also exit to userspace instead (e.g. when it cannot
// access vmcb12). It never just retires, leaving L1 to go on as if it had executed nothing.

import SVMModel

enum VmrunOutcome: Invariant {
    static let family = InvariantFamily.vmrunOutcome
    static let justification = "APM vol. 2, 15.5.1 and 15.20, and AMD's vNMI rule (0977cfac6e76): VMRUN ends in #VMEXIT(INVALID) exactly for the listed vmcb12 states; 15.5: VMRUN is never a no-op"
    static let checkpoint = CheckpointKind.instruction

    static func check(_ ex: inout Executor) -> CheckFailure? {
        guard case .vmrun = ex.now.instruction.insn, ex.now.instruction.before.mode == .l1, ex.now.instruction.resumed,
              !ex.vcpu.vmDead, let d = check(vmcb12: ex.now.instruction.vmcb12, record: ex.now.record, after: ex.vcpu)
        else { return nil }
        return CheckFailure(.vmrunOutcome, d)
    }

    /// Why the APM refuses `v` as vmcb12 for a vCPU of `config`, or nil when VMRUN must accept it.
    static func apmRefusal(_ v: Vmcb, _ config: VcpuConfig) -> String? {
        let s = v.save, c = v.control
        if s.efer & EFER.svme == 0 { return "EFER.SVME clear" }
        if s.cr0 & CR0.cd == 0 && s.cr0 & CR0.nw != 0 { return "CR0.NW without CR0.CD" }
        if s.cr0 >> 32 != 0 { return "CR0[63:32] set" }
        if s.dr6 >> 32 != 0 { return "DR6[63:32] set" }
        if s.dr7 >> 32 != 0 { return "DR7[63:32] set" }
        if !config.cpu.isValidCr4(s.cr4) { return "reserved CR4 bits" }
        if let why = IoctlAcceptsInvalid.invalidEfer(s.efer, config) { return why }
        if s.efer & EFER.lme != 0 && s.cr0 & CR0.pg != 0 {
            if s.cr4 & CR4.pae == 0 { return "long mode without CR4.PAE" }
            if s.cr0 & CR0.pe == 0 { return "long mode without CR0.PE" }
            if !config.cpu.isLegalGpa(s.cr3) { return "illegal CR3" }
            if s.csAttrib & SegAttrib.l != 0 && s.csAttrib & SegAttrib.db != 0 { return "CS.L and CS.D in long mode" }
        }
        if !c.intercepts.contains(.vmrun) { return "VMRUN intercept clear" }
        if c.asid == 0 { return "ASID 0" }
        if !mapIsLegal(c.msrpmBasePa, size: GuestPhys.msrpmSize, config.cpu) { return "MSRPM beyond MAXPHYADDR" }
        if !mapIsLegal(c.iopmBasePa, size: GuestPhys.iopmSize, config.cpu) { return "IOPM beyond MAXPHYADDR" }
        // NP_ENABLE counts only when nested paging is exposed to L1.
        if config.npt && c.miscCtl & MiscCtl.enableNp != 0 && !config.cpu.isLegalGpa(c.nestedCr3) { return "illegal nCR3" }
        if let why = eventInjRefusal(c.eventInj) { return why }
        if c.intCtl & IntCtl.vNmiEnable != 0 && !c.intercepts.contains(.nmi) { return "V_NMI_ENABLE without the NMI intercept" }
        return nil
    }

    /// APM 15.20: the EVENTINJ types are 0 (INTR), 2 (NMI), 3 (exception) and 4 (software interrupt).
    private static func eventInjRefusal(_ e: UInt32) -> String? {
        guard e & EventInj.valid != 0 else { return nil }
        switch e & EventInj.typeMask {
        case EventInj.typeIntr, EventInj.typeNmi, EventInj.typeSoft: return nil
        case EventInj.typeExept:
            return Vector.isDefinedException(UInt8(e & EventInj.vectorMask)) ? nil : "EVENTINJ exception with a non-exception vector"
        default: return "EVENTINJ with an undefined type"
        }
    }

    private static func mapIsLegal(_ base: UInt64, size: UInt64, _ cpu: GuestCpu) -> Bool {
        let b = base & GuestPhys.pageMask
        return cpu.isLegalGpa(b) && cpu.isLegalGpa(b &+ size &- 1)
    }

    /// Failures after the checks that KVM reports as VMEXIT_INVALID although the APM does not list them.
    private static func kvmOwnFailure(_ v: Vmcb, _ config: VcpuConfig) -> Bool {
        let s = v.save, c = v.control
        if c.intercepts.contains(.msrProt) && (!GuestPhys.isMappable(c.msrpmBasePa & GuestPhys.pageMask)
            || !GuestPhys.isMappable((c.msrpmBasePa & GuestPhys.pageMask) &+ GuestPhys.msrpmSize &- 1)) { return true }
        let nestedNpt = config.npt && c.miscCtl & MiscCtl.enableNp != 0
        // Legacy PAE is LMA clear as KVM takes it: vmcb12's LMA as is, or with 1c4c84a643b7 dropped when
        // LME is clear (nested_vmcb02_prepare_save), which makes an LMA-without-LME vmcb12 legacy PAE too.
        let lma = s.efer & EFER.lma != 0 && !(config.has(.ignoreLmaWithoutLmeInL2) && s.efer & EFER.lme == 0)
        let legacyPae = s.cr0 & CR0.pg != 0 && s.cr4 & CR4.pae != 0 && !lma
        if legacyPae && !nestedNpt && !GuestPhys.isMappable(s.cr3) { return true }
        if !config.cpu.isLegalGpa(s.cr3) { return true }
        return false
    }

    /// After an L1 VMRUN that stayed in KVM_RUN (KVM resumes the guest). `vmcb12`: the page as read
    /// before the VMRUN, nil when it could not be read.
    static func check(vmcb12: Vmcb?, record r: StepRecord, after v: Vcpu) -> String? {
        guard r.injected == nil else { return nil }
        let invalid = !v.guestMode && r.vmexitCode == SVMExit.err
        if !v.guestMode && r.vmexitCode == nil {
            return "VMRUN in L1 raised no exception, entered no guest and made no #VMEXIT: a silent no-op"
        }
        guard let vmcb12 else { return nil }
        if let why = apmRefusal(vmcb12, v.config) {
            if !invalid { return "VMRUN of a vmcb12 with \(why) did not end in #VMEXIT(INVALID)" }
            if v.gif { return "VMRUN failed with #VMEXIT(INVALID) but GIF is set" }
            return nil
        }
        if invalid && !kvmOwnFailure(vmcb12, v.config) {
            return "VMRUN of a vmcb12 the APM accepts ended in #VMEXIT(INVALID)"
        }
        return nil
    }
}
