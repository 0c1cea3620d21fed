import Foundation
import XCTest

/// `svmfuzz oracle --records`: the comparison with real KVM's step records, without booting.
final class OracleCommandTests: CLITestCase {
    private let program = """
    wrmsr efer 0x1d01
    wrmsr hsave_pa 0x40000
    """

    private func record(step: Int, efer: String, hsave: String) -> String {
        """
        {"step":\(step),"line":\(step),"op":"wrmsr","ran":"l1","exit":"none","ioctl":"ok","exc":-1,"mode":"l1","gif":1,\
        "run_pending":0,"smm":0,"rip":"0x604010","rip_owner":"l1","rsp":"0x8000","rax":"0x0","rflags":"0x2",\
        "efer":"\(efer)","cr0":"0x80050033","cr3":"0x1000","cr4":"0x20","hsave_pa":"\(hsave)","vm_cr":"0x0",\
        "nested_flags":"0x100","vmcb_pa":"0x0","triple_fault":0,"smi_pending":0,"latched_init":0,"vmcb12_exit":"-"}
        """
    }

    private func writeRecords(efer2: String) throws {
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rec"), withIntermediateDirectories: true)
        let lines = [
            #"{"program":"p.svm","kernel":"6.12.117+deb12-amd64","params":"nested=1 npt=Y nrips=0 vgif=1"}"#,
            record(step: 1, efer: "0x1d01", hsave: "0x0"),
            record(step: 2, efer: efer2, hsave: "0x40000"),
            #"{"end":"p.svm","steps":2,"ms":3,"warnings":[]}"#,
        ]
        try write("rec/p.jsonl", lines.joined(separator: "\n") + "\n")
    }

    func testAgreeingRecords() throws {
        try write("p.svm", program)
        try writeRecords(efer2: "0x1d01")
        let r = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "none.txt")
        XCTAssertEqual(r.status, 2, "a missing --known file is bad input")
        try write("none.txt", "# nothing known\n")
        let ok = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "none.txt")
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
        XCTAssertEqual(ok.stdoutLines.first, "agree     p.svm (2 steps)")
        XCTAssertTrue(ok.lastLine.contains("1 programs, 1 agree, 0 known, 0 disagree"), ok.lastLine)
    }

    func testDisagreementNamesStepFieldAndBothValues() throws {
        try write("p.svm", program)
        try writeRecords(efer2: "0xd01")
        try write("none.txt", "")
        let r = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "none.txt")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdoutLines.first,
                       "DISAGREE  p.svm: step 2 (line 2) wrmsr hsave_pa 0x40000: efer model=0x1d01 kernel=0xd01")

        // Explained with evidence, the same difference no longer fails the run.
        try write("known.txt", "6.12 p.svm efer tcg an example of evidence\n")
        let k = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "known.txt", "--json")
        XCTAssertEqual(k.status, 0, k.stdout)
        XCTAssertTrue(k.stdoutLines.first?.contains(#""verdict":"known:tcg""#) ?? false, k.stdout)
        XCTAssertTrue(k.lastLine.contains(#""known":1"#), k.lastLine)

        try write("bad.txt", "6.12 p.svm efer because\n")
        let bad = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "bad.txt")
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.hasPrefix("bad.txt:1: expected"), bad.stderr)
    }

    func testMissingRecordsFail() throws {
        try write("p.svm", program)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try write("none.txt", "")
        let r = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "empty", "--known", "none.txt")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.hasPrefix("NO-RECORDS p.svm"), r.stdout)
    }

    /// Plays each program against an empty records folder: a reason means `svmfuzz oracle` leaves it
    /// out with that line (Oracle.PlayLimits), nil means it is played (and so has no records here).
    private func assertPlayed(_ cases: [(String, String?)], file: StaticString = #filePath, line: UInt = #line) throws {
        try write("none.txt", "")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rec"), withIntermediateDirectories: true)
        for (text, reason) in cases {
            try write("p.svm", text)
            let r = try svmfuzz("oracle", "p.svm", "--kernel", "6.12", "--records", "rec", "--known", "none.txt")
            if let reason {
                XCTAssertEqual(r.status, 0, r.stdout, file: file, line: line)
                XCTAssertTrue(r.stdoutLines.first?.hasPrefix("not-run   p.svm: " + reason) ?? false, text + r.stdout, file: file, line: line)
            } else {
                XCTAssertTrue(r.stdoutLines.first?.hasPrefix("NO-RECORDS") ?? false, text + r.stdout, file: file, line: line)
            }
        }
    }

    /// Guest code at a RIP where the runner has none (a RIP the program sets, a vmcb12 RIP the runner
    /// cannot place a copy at) runs other bytes on real KVM: such programs are not played, and the line
    /// says which step and RIP. RIPs the runner has code at are played.
    func testProgramsRunningCodeOutsideTheRunnersAreNotPlayed() throws {
        try assertPlayed([
            ("set_regs rip=0xffff800000000000\nwrmsr efer 0x1d01\n", "step 2 runs guest code at RIP 0xffff800000000000,"),
            ("set_regs rip=0x8000\nrun\n", "step 2 runs guest code at RIP 0x8000,"),
            ("run sync_regs rip=0x8000\n", "step 1 runs guest code at RIP 0x8000,"),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x100\nvmrun 0x10000\n",
             "step 4 runs guest code at RIP 0x100,"),
            ("set_regs rip=0x4000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000\nrun\n", nil),
            // A restore refused before its regs step leaves the program's RIP.
            ("set_regs rip=0x8000\nrestore C\nwrmsr efer 0x1d01\n", "step 3 runs guest code at RIP 0x8000,"),
            ("snapshot A\nwrmsr efer 0x1d01\nset_regs rip=0x8000\nset_regs rip=0x4000\nrestore A\nrun\n", nil),
        ])
    }

    /// The other runner limits: a VMRUN of a page the runner fills (the real-mode IVT at 0, L1's PML4
    /// at 0x1000, an L2 interpreter copy) that the program never wrote a vmcb to; KVM_SET_SREGS that
    /// leaves long mode under the runner's 64-bit CS (unless the model refuses it too); L1 code with
    /// paging outside long mode; a signal inside a run before an exception is delivered.
    func testOtherRunnerLimitsAreNotPlayed() throws {
        try assertPlayed([
            ("vmrun 0\n", "step 1 runs VMRUN of 0x0, a page the runner fills"),
            ("wrmsr efer 0x1d01\nvmrun 0x1000\n", "step 2 runs VMRUN of 0x1000, a page the runner fills"),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000\nvmrun 0x10000\nvmrun 0x4000\n",
             "step 5 runs VMRUN of 0x4000, a page the runner fills"),
            ("vmcb 0 intercepts=vmrun,vmmcall rip=0x4000\nwrmsr efer 0x1d01\nvmrun 0\n", nil),
            ("wrmsr efer 0x1d01\nvmrun 0x10000\n", nil),
            ("set_sregs efer=0x1000 cr0=0x80050033 cr3=0x5000 cr4=0x20\n", "step 1 leaves long mode by KVM_SET_SREGS"),
            ("set_sregs efer=0x1500 cr0=0x80050033 cr4=0x20\n", nil),
            ("reset\nrun sync_sregs cr0=0x80000011\n", "step 2 runs L1 code with paging where the runner has no page tables"),
            ("run sync_sregs cr3=0x100000000\n", "step 1 runs L1 code with paging where the runner has no page tables"),
            ("run sync_sregs cr3=0x5000\n", nil),
            ("run sync_regs rsp=0x1\nvmrun 0x10000\n", "step 2 delivers an exception on a stack the program set"),
            ("run sync_regs rsp=0x7000\nvmrun 0x10000\n", nil),
            ("wrmsr efer 0x1d01\nsignal\nvmrun 0x10000\n", "step 3 runs a guest instruction after a signal while the guest runs"),
            ("wrmsr efer 0x1d01\nsignal\nwrmsr hsave_pa 0x40000\n", nil),
            ("set_vcpu_events exception=0x1f\nrun\n", "step 2 injects exception vector 31, which QEMU's VMRUN refuses"),
            ("set_vcpu_events exception=0x1e\nrun\n", nil),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000 cr3=0\nvmrun 0x10000\n",
             "step 4 enters L2 with paging on a CR3 (or nested paging on an nCR3) where the runner has no page table"),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000 cr3=0x3000\nvmrun 0x10000\n", nil),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000 cr3=0x3000 np=1 ncr3=0\nvmrun 0x10000\n",
             "step 4 enters L2 with paging on a CR3 (or nested paging on an nCR3)"),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000 cr3=0x3000 np=1 ncr3=0x5000\nvmrun 0x10000\n", nil),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000 cr0=0x11\nvmrun 0x10000\nsnapshot B\nrestore B\n",
             "step 6 restores a snapshot of L2 outside long mode"),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000\nvmrun 0x10000\nsnapshot B\nrestore B\n", nil),
            ("reset\nwrmsr efer 0x1d01\n", "a guest instruction runs in 16-bit code"),
            // An INIT taken at the instruction's own entry: the instruction runs in the reset state.
            ("init\nvmload 0x12000\n", "a guest instruction runs in 16-bit code"),
            ("init\nset_vcpu_events smi_pending=0\n", nil),
            ("msrpm 0 write=efer\nwrmsr efer 0x1d01\n", "step 1 writes guest memory over L1's page table"),
            ("vmcb 0x1000 intercepts=vmrun,vmmcall\nwrmsr efer 0x1d01\n", "step 1 writes guest memory over L1's page table"),
            ("msrpm 0x2000 write=efer\nwrmsr efer 0x1d01\n", nil),
            ("reset\nrun sync_regs rflags=0x102\n", "step 2 runs the guest with RFLAGS.TF set"),
            ("run sync_regs rflags=0x2\n", nil),
            // A restore refused before its regs step keeps the program's RSP.
            ("run sync_regs rsp=0x1\nrestore B\nvmrun 0x10000\n", "step 3 delivers an exception on a stack the program set"),
            ("set_regs rflags=0x20002\nwrmsr efer 0x1d01\n", "step 2 runs guest code with RFLAGS.VM in long mode"),
            ("run sync_regs rflags=0x20002\n", "step 1 runs guest code with RFLAGS.VM in long mode"),
            ("wrmsr efer 0x1d01\nwrmsr hsave_pa 0x40000\nvmcb 0x10000 intercepts=vmrun,vmmcall rip=0x4000 rflags=0x20002\nvmrun 0x10000\n",
             "step 4 runs guest code with RFLAGS.VM in long mode"),
            ("set_regs rflags=0x20002\nset_regs rflags=0x2\nwrmsr efer 0x1d01\n", nil),
        ])
    }
}
