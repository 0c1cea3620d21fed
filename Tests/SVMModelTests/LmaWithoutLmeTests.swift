// EFER.LMA without LME on the way into L2 and into L1 (zoo-B30: 1c4c84a643b7 and 5dc500a354cc), and
// the case neither fix covers: LME and paging without LMA.

import XCTest
import SVMModel

final class LmaWithoutLmeTests: XCTestCase {
    /// A vmcb12 whose EFER has LMA without LME, with paging and PAE on (legacy PAE paging for L2).
    private func vmcb12(efer: UInt64) -> Vmcb {
        var v = makeVmcb12()
        v.save.efer = efer
        return v
    }

    private static let lmaNoLme = EFER.lma | EFER.nx | EFER.svme          // 0x1c00
    private static let lmeNoLma = EFER.lme | EFER.nx | EFER.svme          // 0x1900

    /// merged (1c4c84a643b7) drops the LMA nested_vmcb_check_save let through: L2 runs with an EFER
    /// that KVM_SET_SREGS accepts back.
    func testMergedIgnoresLmaWithoutLmeInL2() {
        var v = makeL1(.merged)
        enterL2(&v, vmcb12: vmcb12(efer: Self.lmaNoLme))
        XCTAssertEqual(v.efer, EFER.nx | EFER.svme)
        XCTAssertEqual(v.nested.save.efer, EFER.nx | EFER.svme, "dropped from the cached vmcb12 too")
        XCTAssertNil(v.kvmSregsRejection(v.getSregs()))
    }

    /// zoo-B30 loads it as vmcb12 has it: KVM_GET_SREGS returns a set KVM_SET_SREGS refuses.
    func testZooB30LoadsLmaWithoutLme() {
        var v = makeL1(.zooB30)
        enterL2(&v, vmcb12: vmcb12(efer: Self.lmaNoLme))
        XCTAssertEqual(v.efer, Self.lmaNoLme)
        XCTAssertEqual(v.kvmSregsRejection(v.getSregs()), .eferLma)
        // 6.1.192 lacks the fix; Debian's 6.12.117 has it backported (KvmFixes.swift).
        var k = makeL1(.linux61)
        enterL2(&k, vmcb12: vmcb12(efer: Self.lmaNoLme))
        XCTAssertEqual(k.kvmSregsRejection(k.getSregs()), .eferLma)
        var j = makeL1(.linux612)
        enterL2(&j, vmcb12: vmcb12(efer: Self.lmaNoLme))
        XCTAssertEqual(j.efer, EFER.nx | EFER.svme)
    }

    /// kvm_is_valid_sregs refuses LMA outside long mode with one check; the model names which bit is
    /// missing, so the two findings have different signatures.
    func testLmaOutsideLongModeIsToldApartByTheMissingBit() {
        let v = makeL1(.merged)
        var s = v.getSregs()
        s.efer = Self.lmaNoLme
        XCTAssertEqual(v.kvmSregsRejection(s), .eferLma)
        s.efer = EFER.lme | EFER.lma | EFER.nx | EFER.svme
        s.cr0 &= ~CR0.pg
        XCTAssertEqual(v.kvmSregsRejection(s), .eferLmaWithoutPaging)
        s.cr0 |= CR0.pg
        XCTAssertNil(v.kvmSregsRejection(s))
    }

    /// 5dc500a354cc: KVM_SET_NESTED_STATE refuses an L1 save area with LMA and no LME; before it the
    /// next #VMEXIT would have loaded it into L1.
    func testSetNestedStateRefusesL1LmaWithoutLme() {
        for (variant, refused) in [(Variant.merged, true), (.zooB30, false)] {
            var src = makeL1(variant)
            enterL2(&src)
            var st = src.getNestedState()
            st.save.efer = Self.lmaNoLme
            var v = makeL1(variant)
            XCTAssertEqual(v.setMsr(MSR.efer, L1State.efer | EFER.svme), .ok)
            XCTAssertEqual(v.kvmNestedStateRejection(st), refused ? .l1Save : nil, variant.rawValue)
            XCTAssertEqual(v.setNestedState(st), refused ? .einval : .ok, variant.rawValue)
        }
    }

    /// LME with paging but no LMA passes nested_vmcb_check_save and is loaded on every variant; no
    /// upstream fix covers it (a known issue, README "Reports").
    func testLmeWithoutLmaIsLoadedEverywhere() {
        for variant in [Variant.merged, .zooB30, .linux61, .linux612] {
            var v = makeL1(variant)
            enterL2(&v, vmcb12: vmcb12(efer: Self.lmeNoLma))
            XCTAssertEqual(v.efer, Self.lmeNoLma, variant.rawValue)
            XCTAssertEqual(v.kvmSregsRejection(v.getSregs()), .longModeWithoutLma, variant.rawValue)
        }
    }
}
