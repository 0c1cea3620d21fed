// Parsing set_nested_state, restore and expect.

import SVMModel

extension SVMText {
    static func parseSetNestedState(_ r: inout LineReader) throws -> Operation {
        let slot = try r.slot(after: "set_nested_state")
        var flags: UInt32?
        var pa: UInt64?
        var format: UInt16?
        var size: UInt32?
        for (key, value) in try r.fields(["flags", "vmcb_pa", "format", "size"], for: "set_nested_state") {
            switch key {
            case "vmcb_pa":
                pa = try r.number(value, after: "vmcb_pa=", field: "vmcb_pa")
                continue
            case "format":
                format = UInt16(try r.number(value, bits: 16, after: "format=", field: "format"))
                continue
            case "size":
                size = UInt32(try r.number(value, bits: 32, after: "size=", field: "size"))
                continue
            default:
                break
            }
            var f: UInt32 = 0
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                if let named = SVMNames.nestedFlags.first(where: { $0.name == item }) {
                    f |= named.bit
                } else if case .value = SVMNumber.parse(item) {
                    f |= UInt32(try r.number(item, bits: 32, after: "flags=", field: "flags"))
                } else {
                    throw r.error("unknown nested-state flag '\(item)' in flags= (expected a comma list of "
                        + SVMNames.nestedFlags.map(\.name).joined(separator: ", ") + ", or a number)")
                }
            }
            flags = f
        }
        return .setNestedState(slot, flags: flags, vmcbPa: pa, format: format, size: size)
    }

    static func parseRestore(_ r: inout LineReader) throws -> Operation {
        let slot = try r.slot(after: "restore")
        var order = RestoreOrder.qemu
        var fresh = false
        for (key, value) in try r.fields(["order", "into"], for: "restore") {
            if key == "into" {
                guard value == "fresh" || value == "current" else {
                    throw r.error("expected fresh or current after 'into=', got '\(value)'")
                }
                fresh = value == "fresh"
                continue
            }
            guard value != "qemu" else { continue }
            var steps: [RestoreStep] = []
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                guard let s = RestoreStep.allCases.first(where: { $0.description == item }) else {
                    throw r.error("unknown restore step '\(item)' in order= (expected qemu or a comma list of "
                        + RestoreStep.allCases.map(\.description).joined(separator: ", ") + ")")
                }
                guard !steps.contains(s) else { throw r.error("repeated step '\(item)' in order=") }
                steps.append(s)
            }
            guard let o = RestoreOrder(steps) else { throw r.error("expected 1 to 5 distinct steps in order=") }
            order = o
        }
        return .restore(slot, order, intoFresh: fresh)
    }

    static func parseExpect(_ r: inout LineReader) throws -> Expectation {
        var e = Expectation()
        func oneOf<T>(_ all: [T], _ value: Substring, _ key: String, _ r: LineReader) throws -> T
        where T: CustomStringConvertible {
            guard let x = all.first(where: { $0.description == value }) else {
                throw r.error("unknown \(key) '\(value)' (expected one of: "
                    + all.map(\.description).joined(separator: ", ") + ")")
            }
            return x
        }
        for (key, value) in try r.fields(SVMNames.expectKeys, for: "expect") {
            switch key {
            case "exit": e.exit = try oneOf(ExitReason.allCases, value, key, r)
            case "mode": e.mode = try oneOf(SVMNames.modes, value, key, r)
            case "gif": e.gif = try r.flag(value, key: key)
            case "efer": e.efer = try r.number(value, after: "efer=", field: "efer")
            case "violation":
                guard let v = ExpectedViolation(value) else {
                    throw r.error("unknown violation '\(value)' (expected none, an invariant id or an id family such as "
                        + InvariantFamily.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                e.violation = v
            case "ioctl": e.ioctl = try oneOf(Errno.allCases, value, key, r)
            case "triple_fault": e.tripleFault = try r.flag(value, key: key)
            case "exit_code": e.exitCode = try r.number(value, after: "exit_code=", field: "exit_code")
            case "exit_info1": e.exitInfo1 = try r.number(value, after: "exit_info1=", field: "exit_info1")
            case "exception":
                if value == "none" {
                    e.exception = ExpectedException.none
                } else {
                    guard case .value(let v) = SVMNumber.parse(value), v < 256 else {
                        throw r.error("expected none or a vector (0-255) after 'exception=', got '\(value)'")
                    }
                    e.exception = .vector(UInt8(v))
                }
            case "rip": e.rip = try r.number(value, after: "rip=", field: "rip")
            case "rsp": e.rsp = try r.number(value, after: "rsp=", field: "rsp")
            case "rax": e.rax = try r.number(value, after: "rax=", field: "rax")
            default: e.rflags = try r.number(value, after: "rflags=", field: "rflags")
            }
        }
        return e
    }
}
