// The names of the .svm language: operations, MSRs, intercepts, nested-state flags, vmcb keys.

import SVMModel

enum SVMNames {
    /// The operations' names (OperationDescriptions) and `config`.
    static let operations = OperationDescriptions.all.map(\.name) + ["config"]

    /// MSRs with names (wrmsr and msrpm); others are written as hex indices.
    static let msrs = MsrpmImage.known
    static func msrName(_ index: UInt32) -> String? { msrs.first { $0.index == index }?.name }
    static func msrIndex(_ name: Substring) -> UInt32? { msrs.first { $0.name == name }?.index }

    static let nestedFlags: [(name: String, bit: UInt32)] = [
        ("guest_mode", NestedFlag.guestMode), ("run_pending", NestedFlag.runPending), ("gif_set", NestedFlag.gifSet),
    ]

    static let configKeys = ["variant", "fixes", "nested", "npt", "vgif", "svm", "lm", "nrips", "fep", "host_nrips",
                             "host_vls"]

    /// vmcb keys in printing order; `np` is misc_ctl's NP bit (printed as misc_ctl when other bits are set),
    /// the exit fields are printed only when non-zero.
    static let vmcbKeys: [(key: String, field: VmcbField?)] = [
        ("intercepts", nil), ("asid", .asid), ("msrpm", .msrpm), ("iopm", .iopm), ("int_ctl", .intCtl),
        ("np", nil), ("ncr3", .ncr3), ("efer", .efer), ("cr0", .cr0), ("cr2", .cr2), ("cr3", .cr3), ("cr4", .cr4),
        ("rip", .rip), ("rsp", .rsp), ("rax", .rax), ("rflags", .rflags), ("cpl", .cpl),
        ("misc_ctl", .miscCtl), ("exit_code", .exitCode), ("exit_info1", .exitInfo1), ("exit_info2", .exitInfo2),
        ("next_rip", .nextRip), ("cs_attrib", .csAttrib), ("event_inj", .eventInj), ("int_state", .intState),
        ("dr6", .dr6), ("dr7", .dr7),
    ]
    /// Keys printed only when they differ from the default vmcb12 (DefaultVmcb12).
    static let vmcbOptionalKeys: Set<String> = ["misc_ctl", "exit_code", "exit_info1", "exit_info2", "next_rip",
                                                "cs_attrib", "event_inj", "int_state", "dr6", "dr7"]
    /// Keys printed in decimal.
    static let decimalKeys: Set<String> = ["asid", "cpl"]

    static let expectKeys = ["exit", "mode", "gif", "efer", "violation", "ioctl", "triple_fault", "exit_code", "exit_info1",
                             "exception", "rip", "rsp", "rax", "rflags"]
    static let modes: [Mode] = [.l1, .l2, .smm]
}
