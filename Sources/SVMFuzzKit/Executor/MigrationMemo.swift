// The vCPU states unrestorable-state has already migrated without a finding, so that a state met
// again is not migrated again. The fuzz harness runs many inputs that share a prefix (libFuzzer
// mutates corpus inputs), and the migration check (a GET of everything, a PUT into a fresh vCPU, and
// one more entry on each side) was the largest invariant cost of an execution (issue 13).
//
// Exact: the check reads only the vCPU (its configuration, guest memory and creation state
// included: the migration target is `Vcpu.makeL1(config)`), and whether the VMM will resume it
// (`halted`). A state counts as met again only if its bytes equal a remembered one's and
// `halted` is the same. The vCPU is a plain value (no references: `_isPOD`, checked by
// MigrationMemoTests), so equal bytes are an equal value and the check would give the same answer;
// bytes that differ only in padding or in the payload of a nil optional are merely a miss. Only
// states that passed are remembered, so the memo never hides a violation.

import SVMModel
#if canImport(Glibc)
import Glibc
#endif

/// One harness's memo (a reference, so that restarting or copying the executor keeps it). Used by
/// one thread at a time, like the harness that owns it.
final class MigrationMemo: @unchecked Sendable {
    /// Direct-mapped: a state goes to the slot its hash selects, replacing what was there.
    static let slotCount = 256
    private let states: UnsafeMutablePointer<Vcpu>
    /// Per slot: 0 empty, 1 passed with the guest resumable, 2 passed with the guest halted.
    private let tags: UnsafeMutablePointer<UInt8>
    private(set) var hits = 0
    private(set) var misses = 0

    init() {
        states = .allocate(capacity: MigrationMemo.slotCount)
        states.initialize(repeating: Vcpu(config: VcpuConfig()), count: MigrationMemo.slotCount)
        tags = .allocate(capacity: MigrationMemo.slotCount)
        tags.initialize(repeating: 0, count: MigrationMemo.slotCount)
    }

    deinit {
        states.deinitialize(count: MigrationMemo.slotCount)
        states.deallocate()
        tags.deallocate()
    }

    private static func tag(halted: Bool) -> UInt8 { halted ? 2 : 1 }

    /// A slot for these bytes: every fourth word folded by xor and by sum, then mixed. Any function
    /// of the bytes would do (equality is decided by comparing all of them); hashing every word cost
    /// more than the comparison.
    private static func slot(_ bytes: UnsafeRawBufferPointer) -> Int {
        let words = bytes.count / 8
        var x: UInt64 = 0, s: UInt64 = 0
        for i in stride(from: 0, to: words, by: 4) {
            let w = bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
            x ^= w
            s &+= w
        }
        var h = x ^ (s << 29 | s >> 35)
        h = (h ^ (h >> 31)) &* 0x9e37_79b9_7f4a_7c15
        return Int(truncatingIfNeeded: h >> 56) & (slotCount - 1)
    }

    /// Whether a state with these bytes and this `halted` passed before; else the slot `remember`
    /// takes for it.
    func find(_ bytes: UnsafeRawBufferPointer, halted: Bool) -> (passed: Bool, slot: Int) {
        let i = MigrationMemo.slot(bytes)
        if tags[i] == MigrationMemo.tag(halted: halted),
           memcmp(UnsafeRawPointer(states + i), bytes.baseAddress!, MemoryLayout<Vcpu>.size) == 0 {
            hits += 1
            return (true, i)
        }
        misses += 1
        return (false, i)
    }

    /// Remembers a state that passed, in the slot `find` gave for it.
    func remember(_ bytes: UnsafeRawBufferPointer, halted: Bool, slot: Int) {
        UnsafeMutableRawPointer(states + slot).copyMemory(from: bytes.baseAddress!, byteCount: MemoryLayout<Vcpu>.size)
        tags[slot] = MigrationMemo.tag(halted: halted)
    }
}
