// Restore orders in the byte encoding. A restore's payload byte is slot (bits 0-1) | index << 2:
// index < 32 picks table[index % table.count] (index 0 is QEMU's order); 32 <= index < 48 picks
// table[index - 32] into a fresh vCPU (`into=fresh`); index >= 48 escapes to a literal permutation (into
// a fresh vCPU from index 56 on): a count byte (count = b % 5 + 1), then one choice byte per step, each
// picking the (b % remaining)-th of the steps not yet used, in RestoreStep order. (Indices 32-47 and 56-63
// wrapped to the same orders before into=fresh existed; no stored input used them.)

enum RestoreOrders {
    static let literalIndex: UInt8 = 48
    /// The first index of the table orders into a fresh vCPU, and of the literal ones.
    static let freshIndex: UInt8 = 32
    static let freshLiteralIndex: UInt8 = 56

    static let table: [RestoreOrder] = [
        [.sregs, .nested, .regs, .msrs, .events],      // qemu
        [.nested, .sregs, .regs, .msrs, .events],      // nested state before EFER.SVME is set
        [.regs, .sregs, .nested, .msrs, .events],
        [.msrs, .sregs, .nested, .regs, .events],
        [.events, .sregs, .nested, .regs, .msrs],
        [.sregs, .regs, .msrs, .events, .nested],      // nested last
        [.nested, .regs, .msrs, .events, .sregs],      // sregs last
        [.msrs, .nested, .sregs, .regs, .events],
        [.sregs, .nested], [.nested], [.sregs], [.msrs], [.events], [.regs],
        [.nested, .sregs], [.sregs, .msrs, .nested, .regs, .events],
    ].map { RestoreOrder($0)! }

    /// Every order (325), indexed by the literal's choices: group of count n at groupStart[n-1], then the
    /// choices as a mixed-radix number (first choice most significant).
    static let all: [RestoreOrder] = {
        var out: [RestoreOrder] = []
        for n in 1...5 {
            func rec(_ prefix: [RestoreStep]) {
                if prefix.count == n { out.append(RestoreOrder(prefix)!); return }
                for s in RestoreStep.allCases where !prefix.contains(s) { rec(prefix + [s]) }
            }
            rec([])
        }
        return out
    }()
    static let groupStart = [0, 5, 25, 85, 205]

    /// Decodes a literal from a count byte and choice bytes (missing bytes read as 0); no allocation.
    @inline(__always)
    static func literal(_ next: () -> UInt8?) -> RestoreOrder {
        let n = Int((next() ?? 0) % 5) + 1
        var index = 0
        for i in 0..<n { index = index * (5 - i) + Int(next() ?? 0) % (5 - i) }
        return all[groupStart[n - 1] + index]
    }

    /// The count byte and choice bytes that `literal` decodes to `order`.
    static func literalBytes(_ order: RestoreOrder) -> [UInt8] {
        let steps = order.steps
        var out = [UInt8(steps.count - 1)]
        var used: [RestoreStep] = []
        for s in steps {
            out.append(UInt8(RestoreStep.allCases.filter { !used.contains($0) }.firstIndex(of: s) ?? 0))
            used.append(s)
        }
        return out
    }
}
