import SVMFuzzKit
import SVMModel
import XCTest

final class KvmPlanTests: XCTestCase {
    private func plan(_ text: String) throws -> [String] {
        let p = try SVMText.parse(text, file: "t.svm")
        return KvmPlan.lower(p, name: "t.svm").split(separator: "\n").map(String.init)
    }

    private func step(_ lines: [String], _ n: Int) -> String {
        let prefix = "step \(n) "
        return lines.first { $0.hasPrefix(prefix) } ?? ""
    }

    func testVmcbImageUsesTheApmLayout() throws {
        let lines = try plan("""
        vmcb 0x10000 intercepts=vmrun,vmmcall,shutdown asid=1 efer=0x1d01 cr0=0x80050033 cr3=0x3000 cr4=0x20 rip=0x4000 rsp=0x8000 event_inj=0x80000480
        """)
        XCTAssertEqual(lines[0], "plan 1")
        XCTAssertTrue(lines.contains("cr3 0x3000"))
        XCTAssertTrue(lines.contains("l2entry 0x4000"))
        let s = step(lines, 1)
        XCTAssertTrue(s.hasPrefix("step 1 1 mem zero=0x10000:0x1000 "), s)
        for w in ["w32=0x1000c:0x80000000",      // SHUTDOWN: exit 0x7f, word 3 bit 31
                  "w32=0x10010:0x3",             // VMRUN | VMMCALL: word 4 bits 0-1
                  "w32=0x10058:0x1",             // ASID
                  "w32=0x100a8:0x80000480",      // EVENTINJ
                  "w64=0x104d0:0x1d01",          // EFER
                  "w64=0x10550:0x3000", "w64=0x10558:0x80050033", "w64=0x10548:0x20",
                  "w64=0x10578:0x4000", "w64=0x105d8:0x8000",
                  "w64=0x10410:0xffffffff029b0008",  // CS: selector 8, 64-bit code, where the model has no attributes
                  "w64=0x10668:0x7040600070406"] {    // G_PAT
            XCTAssertTrue(s.contains(" " + w), "missing \(w) in \(s)")
        }
    }

    /// The runner places an L2 interpreter copy only where runner.c's runner_area allows: not in its
    /// area, on its 16-bit interpreter copies, its SMM entry, the IVT, or across a CR3's PML4 entry.
    func testInterpreterStartsFollowTheRunnersArea() throws {
        func starts(_ rips: [UInt64], cr3: UInt64 = 0x3000) throws -> [UInt64] {
            func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
            let text = rips.enumerated().map { i, rip in
                "vmcb \(hex(0x10000 + 0x1000 * UInt64(i))) cr3=\(hex(cr3)) rip=\(hex(rip))"
            }.joined(separator: "\n")
            return KvmPlan.interpreterStarts(try SVMText.parse(text, file: "t.svm"))
        }
        XCTAssertEqual(try starts([0x4000]), [KvmPlan.interpreterL1, 0x4000])
        for owned: UInt64 in [0x60_0100, 0x7f_ff00, 0xf_e100, 0xffff_e800, 0x3_8000 - 0x100, 0x300, 0xffff_ff00] {
            XCTAssertEqual(try starts([owned]), [KvmPlan.interpreterL1], "0x\(String(owned, radix: 16))")
        }
        // Just past the 16-bit interpreter's copy, and one whose copy would cover CR3's PML4 entry.
        XCTAssertEqual(try starts([0xf_e8a6]), [KvmPlan.interpreterL1, 0xf_e8a6])
        XCTAssertEqual(try starts([0x2f00], cr3: 0x3000), [KvmPlan.interpreterL1])
        XCTAssertTrue(KvmPlan.placesCr3(0x3000))
        XCTAssertFalse(KvmPlan.placesCr3(0xf_e000))
        XCTAssertFalse(KvmPlan.placesCr3(0x60_2000))
    }

    /// A permission map whose second page lies beyond the runner's 4 GiB is zeroed up to RAM's end (the
    /// runner refuses a whole plan set over one range outside RAM: a campaign batch was lost to
    /// `zero=0xfffff000:0x2000`); one reaching into the runner's area is not written at all.
    func testMsrpmAtTheEdgesOfRam() throws {
        let top = step(try plan("msrpm 0xfffff000 write=efer\n"), 1)
        XCTAssertTrue(top.hasPrefix("step 1 1 mem zero=0xfffff000:0x1000"), top)
        XCTAssertEqual(step(try plan("msrpm 0x5ff000 write=efer\n"), 1), "step 1 1 nop what=unbacked-msrpm")
    }

    func testMsrpmSmramAndUnplayableSteps() throws {
        let lines = try plan("""
        msrpm 0x20000 write=efer
        smram rip=0x4000 efer=0x1d01 svm_guest=1 vmcb=0x10000
        race_vmcb intercepts=vmrun
        vmcb 0x100000000 intercepts=vmrun
        restore B order=regs,sregs
        set_sregs efer=0xd01
        """)
        // EFER (0xc0000080) is in the second 2 KiB range: bit 2*0x80 of it, write bit = bit 1 of byte 0x820.
        XCTAssertEqual(step(lines, 1), "step 1 1 mem zero=0x20000:0x2000 w8=0x20820:0x2")
        XCTAssertEqual(step(lines, 2),
                       "step 2 2 mem w64=0x3fed0:0x1d01 w64=0x3fed8:0x1 w64=0x3fee0:0x10000 w64=0x3ff78:0x4000")
        XCTAssertEqual(step(lines, 3), "step 3 3 unsupported what=race_vmcb")
        XCTAssertEqual(step(lines, 4), "step 4 4 nop what=unbacked-vmcb")
        XCTAssertEqual(step(lines, 5), "step 5 5 restore slot=B order=regs,sregs")
        XCTAssertEqual(step(lines, 6), "step 6 6 set_sregs efer=0xd01")
        XCTAssertEqual(lines.last, "end")
    }

    func testEveryCorpusProgramLowers() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("corpus")
        let files = FileManager.default.enumerator(atPath: root.path)!.compactMap { $0 as? String }.filter { $0.hasSuffix(".svm") }
        XCTAssertGreaterThan(files.count, 20)
        for f in files {
            let text = try String(contentsOf: root.appendingPathComponent(f), encoding: .utf8)
            let p = try SVMText.parse(text, file: f)
            let lines = KvmPlan.lower(p, name: f).split(separator: "\n")
            // One step line per operation, numbered in order, and nothing in the runner's area.
            let steps = lines.filter { $0.hasPrefix("step ") }
            XCTAssertEqual(steps.count, p.operations.count, f)
            for (i, s) in steps.enumerated() { XCTAssertTrue(s.hasPrefix("step \(i + 1) "), "\(f): \(s)") }
            for s in steps {
                for token in s.split(separator: " ") where ["w8=", "w16=", "w32=", "w64=", "zero="].contains(where: { token.hasPrefix($0) }) {
                    let gpa = UInt64(token.split(separator: "=")[1].split(separator: ":")[0].dropFirst(2), radix: 16)!
                    XCTAssertFalse(KvmPlan.runnerArea.contains(gpa), "\(f): \(token) writes the runner's area")
                }
            }
        }
    }
}
