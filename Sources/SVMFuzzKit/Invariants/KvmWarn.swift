// kvm-warn:<site>: none of KVM's modeled WARN_ON conditions fires.
//
// A WARN_ON in KVM documents a state its authors consider impossible (Documentation/process/
// coding-style.rst: WARN is for "should never happen"); the model records each site instead of
// splatting (Sources/SVMModel/Warnings.swift). Each site is reported once per run.

import SVMModel

enum KvmWarn: Invariant {
    static let family = InvariantFamily.kvmWarn
    static let justification = "KVM's WARN_ON sites mark states its authors hold impossible"
    static let checkpoint = CheckpointKind.step

    static func check(_ ex: inout Executor) -> CheckFailure? {
        let fired = ex.vcpu.warnings, reported = ex.reportedWarnings
        guard fired != reported, let site = fired.sites.first(where: { !reported.contains($0) }) else { return nil }
        return CheckFailure(.kvmWarn(site), "WARN_ON in \(site.name)")
    }
}
