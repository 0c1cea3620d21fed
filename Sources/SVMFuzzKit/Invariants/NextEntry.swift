// unrestorable-state, second half: a migrated vCPU's next entry does what the original's would.
//
// Live migration promises that KVM_GET_* then KVM_SET_* on a new vCPU resumes the guest as if it had
// never stopped (Documentation/virt/kvm/api.rst, KVM_GET_NESTED_STATE: the state is what "userspace
// needs to save and restore"). Equal GET results are not enough when KVM keeps guest-visible state
// outside them, so both vCPUs are entered once more and compared on what that entry shows the guest:
// the level and registers it runs with, GIF, the event VMRUN delivers from EVENTINJ with the return
// address it pushes (APM vol. 2, 15.20 "Event Injection": for a software interrupt the CPU pushes
// NextRIP), and, for an L1 with NRIPS, vmcb02's NextRIP, which the next #VMEXIT reports in vmcb12.

import SVMModel

/// What differs at the next entry (the `next-entry:<field>` reason of unrestorable-state).
public enum NextEntryField: String, Hashable, Sendable, CaseIterable {
    case entry, mode, event
    case initDelivery = "init"
    case nextRip = "next_rip"
    /// NextRIP differs although KVM syncs it to the cached vmcb12 after each run of L2 (778d8c1b2a6f):
    /// KVM wrote vmcb02's NextRIP after that sync (e.g. svm_check_intercept for an emulated instruction).
    case nextRipAfterSync = "next_rip-after-sync"
    case gif, rip, rsp, rax, rflags
}

enum NextEntry {
    struct Outcome: Equatable {
        var entry: EntryResult
        var mode: Mode
        var rip: UInt64, rsp: UInt64, rax: UInt64, rflags: UInt64
        var gif: Bool
        var delivered: DeliveredEvent?
        var nextRip: UInt64?
        /// The entry delivered a latched INIT (the vCPU was reset).
        var initDelivered: Bool
    }

    /// KVM_RUN on `c` (the caller's copy, or its last use), up to the entry into the guest.
    static func probe(_ c: consuming Vcpu) -> Outcome {
        c.kvmRunBegin()
        let initBefore = c.initPending
        let entry = c.vcpuEnterGuest()
        let reportsNextRip = c.config.nripsEnabled && c.mode == .l2
        return Outcome(entry: entry, mode: c.mode, rip: c.rip, rsp: c.rsp, rax: c.rax, rflags: c.rflags, gif: c.gif,
                       delivered: c.lastDelivered, nextRip: reportsNextRip ? c.vmcb02.control.nextRip : nil,
                       initDelivered: initBefore && !c.initPending)
    }

    /// What differs between the original's next entry and the migrated vCPU's, or nil.
    static func firstDifference(original: Vcpu, migrated: consuming Vcpu, describe: Bool = true) -> (field: NextEntryField, detail: String)? {
        // Without nested state the VMM does not migrate GIF (VcpuSnapshot.migratesNestedState); what a
        // different GIF then changes at entry is that known limit, not a KVM fault.
        if original.gif != migrated.gif && !VcpuSnapshot.migratesNestedState(original.config) { return nil }
        let a = probe(original), b = probe(migrated)
        if a == b { return nil }
        func hex(_ x: UInt64?) -> String { x.map { "0x" + String($0, radix: 16) } ?? "none" }
        func event(_ e: DeliveredEvent?) -> String {
            e.map { "event_inj 0x\(String($0.eventInj, radix: 16)) returning to \(hex($0.returnRip))" } ?? "no event"
        }
        // A latched INIT taken by one side only explains everything else that differs (the reset).
        if a.initDelivered != b.initDelivered {
            return (.initDelivery, describe ? "latched INIT \(a.initDelivered ? "delivered" : "kept") -> \(b.initDelivered ? "delivered" : "kept")" : "")
        }
        if a.entry != b.entry { return (.entry, describe ? "\(a.entry) -> \(b.entry)" : "") }
        if a.mode != b.mode { return (.mode, describe ? "\(a.mode) -> \(b.mode)" : "") }
        if a.delivered != b.delivered { return (.event, describe ? "\(event(a.delivered)) -> \(event(b.delivered))" : "") }
        if a.nextRip != b.nextRip {
            // The label only names the case (the sync fix present but bypassed); the check is the same.
            let synced = original.config.fixes.contains(.syncNextRipToCachedVmcb12)
            return (synced ? .nextRipAfterSync : .nextRip,
                    describe ? "vmcb02 NextRIP \(hex(a.nextRip)) -> \(hex(b.nextRip))\(synced ? " (written after KVM synced it to the cached vmcb12)" : "")" : "")
        }
        if a.gif != b.gif { return (.gif, describe ? "\(a.gif ? 1 : 0) -> \(b.gif ? 1 : 0)" : "") }
        func reg(_ f: NextEntryField, _ x: UInt64, _ y: UInt64) -> (field: NextEntryField, detail: String) {
            (f, describe ? "\(f.rawValue) \(hex(x)) -> \(hex(y))" : "")
        }
        if a.rip != b.rip { return reg(.rip, a.rip, b.rip) }
        if a.rsp != b.rsp { return reg(.rsp, a.rsp, b.rsp) }
        if a.rax != b.rax { return reg(.rax, a.rax, b.rax) }
        if a.rflags != b.rflags { return reg(.rflags, a.rflags, b.rflags) }
        return nil
    }
}
