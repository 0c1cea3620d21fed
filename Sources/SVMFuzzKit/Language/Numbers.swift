// Numbers of the .svm language: hex `0x..` (or `0X..`) or decimal, at most 64 bits; printing uses
// lowercase hex for addresses, registers and bitmasks, and `0` for zero.

enum SVMNumber {
    enum Parsed: Equatable { case value(UInt64), invalid, overflow }

    static func parse(_ s: Substring) -> Parsed {
        var digits = s
        var radix: UInt64 = 10
        if s.hasPrefix("0x") || s.hasPrefix("0X") {
            digits = s.dropFirst(2)
            radix = 16
        }
        guard !digits.isEmpty else { return .invalid }
        var v: UInt64 = 0
        var overflow = false
        for c in digits {
            guard c.isASCII, let d = c.hexDigitValue, UInt64(d) < radix else { return .invalid }
            let (m, o1) = v.multipliedReportingOverflow(by: radix)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { overflow = true }
            v = a
        }
        return overflow ? .overflow : .value(v)
    }

    static func hex(_ v: UInt64) -> String { v == 0 ? "0" : "0x" + String(v, radix: 16) }
}
