import Foundation
import XCTest

/// `svmfuzz oracle-minimize --records`: the batched minimizer on recorded kernel records, no boot.
final class OracleMinimizeTests: CLITestCase {
    /// Operation 1 is irrelevant; the "kernel" loses EFER.SVME at the hsave_pa write (operation 2).
    private let program = """
    wrmsr efer 0x1d01
    wrmsr vm_cr 0
    wrmsr hsave_pa 0x40000
    """

    /// One runner record per (EFER, HSAVE_PA) pair, steps numbered from 1.
    private func records(_ name: String, _ steps: [(op: String, efer: String, hsave: String)]) throws {
        var lines = [#"{"program":"p.svm","kernel":"6.12.117+deb12-amd64","params":"nested=1 npt=Y nrips=0 vgif=1"}"#]
        for (i, s) in steps.enumerated() {
            lines.append("""
            {"step":\(i + 1),"line":\(i + 1),"op":"\(s.op)","ran":"l1","exit":"none","ioctl":"ok","exc":-1,"mode":"l1",\
            "gif":1,"run_pending":0,"smm":0,"rip":"0x604010","rip_owner":"l1","efer":"\(s.efer)","cr0":"0x80050033",\
            "cr3":"0x1000","cr4":"0x20","hsave_pa":"\(s.hsave)","vm_cr":"0x0","nested_flags":"0x100","vmcb_pa":"0x0",\
            "triple_fault":0,"smi_pending":0,"latched_init":0,"vmcb12_exit":"-"}
            """)
        }
        lines.append(#"{"end":"p.svm","steps":\#(steps.count),"ms":3,"warnings":[]}"#)
        try write("rec/\(name).jsonl", lines.joined(separator: "\n") + "\n")
    }

    func testKeepsTheDisagreementAndDropsTheRest() throws {
        try write("p.svm", program)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rec"), withIntermediateDirectories: true)
        // The whole program and the candidate without operation 1 disagree at EFER; the one without
        // operation 0 agrees (the model then expects 0xd01 too); the others have no records.
        try records("k0-2", [("wrmsr", "0x1d01", "0x0"), ("wrmsr", "0x1d01", "0x0"), ("wrmsr", "0xd01", "0x40000")])
        try records("k0_2", [("wrmsr", "0x1d01", "0x0"), ("wrmsr", "0xd01", "0x40000")])
        try records("k1-2", [("wrmsr", "0xd01", "0x0"), ("wrmsr", "0xd01", "0x40000")])
        let r = try svmfuzz("oracle-minimize", "p.svm", "--kernel", "6.12", "--records", "rec", "-o", "small.svm", "--json")
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.lastLine.contains(#""ops_after":2"#), r.lastLine)
        XCTAssertTrue(r.lastLine.contains(#""field":"efer""#), r.lastLine)
        XCTAssertTrue(r.lastLine.contains(#""keep":"k0_2""#), r.lastLine)
        XCTAssertTrue(r.lastLine.contains(#""boots":0"#), r.lastLine)
        let small = try String(contentsOf: dir.appendingPathComponent("small.svm"), encoding: .utf8)
        XCTAssertTrue(small.hasPrefix("# oracle-minimize p.svm on linux 6.12"), small)
        XCTAssertTrue(small.contains("efer model=0x1d01 kernel=0xd01"), small)
        XCTAssertEqual(small.split(separator: "\n").filter { !$0.hasPrefix("#") },
                       ["wrmsr efer 0x1d01", "wrmsr hsave_pa 0x40000"])
    }

    func testAnAgreeingProgramHasNothingToMinimize() throws {
        try write("p.svm", program)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("rec"), withIntermediateDirectories: true)
        try records("k0-2", [("wrmsr", "0x1d01", "0x0"), ("wrmsr", "0x1d01", "0x0"), ("wrmsr", "0x1d01", "0x40000")])
        let r = try svmfuzz("oracle-minimize", "p.svm", "--kernel", "6.12", "--records", "rec")
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("do not disagree"), r.stderr)
        let bad = try svmfuzz("oracle-minimize", "p.svm")
        XCTAssertEqual(bad.status, 2)
    }
}
