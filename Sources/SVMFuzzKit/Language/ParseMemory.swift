// Parsing wrmsr and the guest-memory operations (vmcb, msrpm).

import SVMModel

extension SVMText {
    static func parseWrmsr(_ r: inout LineReader) throws -> Operation {
        let names = SVMNames.msrs.map(\.name).joined(separator: ", ")
        let t = try r.required("an MSR name (\(names)) or index", after: "wrmsr")
        let msr: UInt32
        if let known = SVMNames.msrIndex(t) {
            msr = known
        } else {
            switch SVMNumber.parse(t) {
            case .invalid:
                throw r.error("expected an MSR name (\(names)) or index after 'wrmsr', got '\(t)'")
            case .overflow:
                throw r.error("value \(t) does not fit in 64 bits for the MSR index")
            case .value(let v):
                guard v >> 32 == 0 else { throw r.error("value \(t) does not fit in 32 bits for the MSR index") }
                msr = UInt32(v)
            }
        }
        let value = try r.operand("a value", after: "wrmsr \(t)", field: "the MSR value")
        try r.end()
        return .guest(.wrmsr(msr: msr, value: value))
    }

    static func parseVmcb(_ r: inout LineReader) throws -> Operation {
        let gpa = try r.operand("a GPA", after: "vmcb", field: "the GPA")
        return .vmcb(gpa: gpa, try parseVmcbFields(&r, for: "vmcb"))
    }

    /// `key=value` vmcb fields on top of DefaultVmcb12.value (vmcb, race_vmcb).
    static func parseVmcbFields(_ r: inout LineReader, for op: String) throws -> Vmcb {
        var v = DefaultVmcb12.value
        for (key, value) in try r.fields(SVMNames.vmcbKeys.map(\.key), for: op) {
            switch key {
            case "intercepts": v.control.intercepts = try parseIntercepts(value, &r)
            case "np":
                let np = try r.flag(value, key: key)
                v.control.miscCtl = (v.control.miscCtl & ~MiscCtl.enableNp) | (np ? MiscCtl.enableNp : 0)
            default:
                guard let field = SVMNames.vmcbKeys.first(where: { $0.key == key })?.field else { continue }
                field.set(&v, try r.number(value, bits: field.table.bits, after: "\(key)=", field: key))
            }
        }
        return v
    }

    static func parseIntercepts(_ value: Substring, _ r: inout LineReader) throws -> InterceptSet {
        var set = InterceptSet()
        if value == "-" { return set }
        let expected = "expected a comma list of " + InterceptSet.named.map(\.0).joined(separator: ", ")
            + ", exc:<vector>, exit:<code 0x60-0x9f>, or -"
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            if let named = InterceptSet.named.first(where: { $0.0 == item }) {
                set.insert(named.1)
            } else if item.hasPrefix("exc:"), case .value(let n) = SVMNumber.parse(item.dropFirst(4)), n < 32 {
                set.exceptions |= 1 << UInt32(n)
            } else if item.hasPrefix("exit:"), case .value(let c) = SVMNumber.parse(item.dropFirst(5)),
                      c >= 0x60, c < 0xa0 {
                set.misc |= 1 << (c - 0x60)
            } else {
                throw r.error("unknown intercept '\(item)' in intercepts= (\(expected))")
            }
        }
        return set
    }

    static func parseMsrpm(_ r: inout LineReader) throws -> Operation {
        let gpa = try r.operand("a GPA", after: "msrpm", field: "the GPA")
        var image = MsrpmImage()
        for (key, value) in try r.fields(["write", "read"], for: "msrpm") {
            let bits = try parseMsrList(value, key: key, &r)
            if key == "write" { image.writes = bits } else { image.reads = bits }
        }
        return .msrpm(gpa: gpa, image)
    }

    /// A comma list of MsrpmImage.known names or indices (or bit<n> for the image's unnamed bits), or '-'.
    static func parseMsrList(_ value: Substring, key: String, _ r: inout LineReader) throws -> UInt8 {
        if value == "-" { return 0 }
        var bits: UInt8 = 0
        for item in value.split(separator: ",", omittingEmptySubsequences: false) {
            if let i = SVMNames.msrs.firstIndex(where: { $0.name == item }) {
                bits |= 1 << UInt8(i)
            } else if case .value(let n) = SVMNumber.parse(item),
                      let i = SVMNames.msrs.firstIndex(where: { UInt64($0.index) == n }) {
                bits |= 1 << UInt8(i)
            } else if item.hasPrefix("bit"), case .value(let n) = SVMNumber.parse(item.dropFirst(3)), n < 8 {
                bits |= 1 << UInt8(n)
            } else {
                throw r.error("unknown MSR '\(item)' in \(key)= (expected a comma list of "
                    + SVMNames.msrs.map(\.name).joined(separator: ", ") + ", their indices, or -)")
            }
        }
        return bits
    }
}
