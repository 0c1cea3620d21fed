// The description of `run`: a plain KVM_RUN, or one with kvm_run's doors (RunRequest):
//   run [immediate_exit] [sync_regs <set_regs fields>] [sync_sregs <set_sregs fields>] [sync_events <set_vcpu_events fields>]
// The sync blocks are the patches of set_regs/set_sregs/set_vcpu_events, parsed, printed, encoded and
// mutated through the same field tables. Bytes: plain `run` keeps its opcodes (0xa5...); the doors have
// their own (0xfe, 0xff, taken from the end of reset's range):
//   run_doors F [regs patch] [sregs patch] [events patch]
//   F bit 0 immediate_exit, bit 1 sync_sregs, bit 2 sync_events, bit 3 sync_regs (SREGS and EVENTS on the
//   low bits, which small random bytes reach most); F & 0xf == 0 is immediate_exit alone, so every byte
//   string decodes to a run with a door.

import SVMModel

extension OperationDescriptions {
    static let plainRunOpcode = Opcode.at(0xa5, 4)
    static let runDoorsOpcode = Opcode.at(0xfe, 2)

    static let run = OperationDescription(
        name: "run", fields: [], opcodes: [plainRunOpcode, runDoorsOpcode],
        example: .runWith(RunRequest(immediateExit: true, sregs: SregsPatch(efer: 0xd01))),
        parse: { r in try RunDoorsText.parse(&r) },
        print: { o in RunDoorsText.line(o.runRequest) },
        encode: { o, e in
            let req = o.runRequest
            guard !req.isPlain else { return e.op(plainRunOpcode) }
            e.op(runDoorsOpcode)
            e.bytes.append(RunDoorsCodec.flags(req))
            if let p = req.regs { e.patch(p) }
            if let p = req.sregs { e.patch(p) }
            if let p = req.events { e.patch(p) }
        },
        decode: { i, d in
            guard i == 1 else { return .run }
            let f = (d.byte() ?? 0) & 0xf
            var req = RunRequest(immediateExit: f & 1 != 0 || f == 0)
            if f & 8 != 0 { req.regs = d.patch(RegsPatch.self) }
            if f & 2 != 0 { req.sregs = d.patch(SregsPatch.self) }
            if f & 4 != 0 { req.events = d.patch(EventsPatch.self) }
            return .runWith(req)
        },
        tweak: { o, rng in RunDoorsTweak.tweak(o, &rng) },
        simplify: { o in
            guard case .runWith(let req) = o else { return [] }
            var out: [Operation] = []
            func add(_ r: RunRequest) { out.append(r.operation) }
            if req.immediateExit { var r = req; r.immediateExit = false; add(r) }
            if let p = req.regs {
                var r = req; r.regs = nil; add(r)
                for q in Minimizer.withoutOneField(p) { r = req; r.regs = q; add(r) }
            }
            if let p = req.sregs {
                var r = req; r.sregs = nil; add(r)
                for q in Minimizer.withoutOneField(p) { r = req; r.sregs = q; add(r) }
            }
            if let p = req.events {
                var r = req; r.events = nil; add(r)
                for q in Minimizer.withoutOneField(p) { r = req; r.events = q; add(r) }
            }
            return out
        },
        lowerToPlan: { o in RunDoorsText.planStep(o.runRequest) })
}

extension Operation {
    /// What a `run` operation asks of kvm_run (a plain run asks nothing).
    var runRequest: RunRequest {
        if case .runWith(let r) = self { return r }
        return RunRequest()
    }
}

enum RunDoorsCodec {
    static func flags(_ r: RunRequest) -> UInt8 {
        (r.immediateExit ? 1 : 0) | (r.sregs != nil ? 2 : 0) | (r.events != nil ? 4 : 0) | (r.regs != nil ? 8 : 0)
    }
}

/// The .svm text and the plan step of `run`.
enum RunDoorsText {
    static let immediateExit = "immediate_exit"
    static let regs = "sync_regs", sregs = "sync_sregs", events = "sync_events"

    static func line(_ req: RunRequest) -> String {
        var parts = ["run"]
        if req.immediateExit { parts.append(immediateExit) }
        if let p = req.regs { parts.append(SVMText.patchLine(regs, p)) }
        if let p = req.sregs { parts.append(SVMText.patchLine(sregs, p)) }
        if let p = req.events { parts.append(SVMText.patchLine(events, p)) }
        return parts.joined(separator: " ")
    }

    /// The operands after `run`: `immediate_exit` and sync blocks, each block a keyword followed by its
    /// patch's key=value fields (parsed as the matching set_* operation's, by a reader of its own).
    static func parse(_ r: inout LineReader) throws -> Operation {
        var req = RunRequest()
        var block: [Substring] = []
        func close(_ r: LineReader) throws {
            guard let head = block.first else { return }
            var sub = LineReader(file: r.file, line: r.line, tokens: block)
            switch head {
            case regs: req.regs = try SVMText.parsePatch(&sub, RegsPatch.self)
            case sregs: req.sregs = try SVMText.parsePatch(&sub, SregsPatch.self)
            default: req.events = try SVMText.parsePatch(&sub, EventsPatch.self)
            }
            block = []
        }
        var seen: Set<Substring> = []
        while let t = r.next() {
            if [immediateExit, regs, sregs, events].contains(String(t)) {
                guard seen.insert(t).inserted else { throw r.error("duplicate '\(t)' for run") }
                try close(r)
                if t == immediateExit { req.immediateExit = true } else { block = [t] }
                continue
            }
            guard !block.isEmpty else {
                throw r.error("expected \(immediateExit), \(regs), \(sregs) or \(events) after 'run', got '\(t)'")
            }
            block.append(t)
        }
        try close(r)
        return req.operation
    }

    /// `run` with its doors as plan arguments: `immediate_exit=1`, `sync=` the dirty blocks, then their
    /// fields (the field names of regs, sregs and events are distinct).
    static func planStep(_ req: RunRequest) -> String {
        guard !req.isPlain else { return "run" }
        var f: [(String, UInt64?)] = []
        var sync: [String] = []
        func add<P: PatchFields>(_ name: String, _ p: P?) {
            guard let p else { return }
            sync.append(name)
            f += P.fields.indices.map { (P.fields[$0].name, p[field: $0]) }
        }
        add("regs", req.regs)
        add("sregs", req.sregs)
        add("events", req.events)
        var head = "run"
        if req.immediateExit { head += " immediate_exit=1" }
        if !sync.isEmpty { head += " sync=" + sync.joined(separator: ",") }
        return KvmPlan.fields(head, f)
    }
}

/// The mutator's moves for `run`: a plain run gains a door or becomes a sibling; a run with doors
/// toggles immediate_exit, adds or drops a sync block, or moves one field of a block.
enum RunDoorsTweak {
    static func tweak(_ o: Operation, _ rng: inout MutatorRng) -> Operation {
        var req = o.runRequest
        if req.isPlain && rng.chance(3) {
            return OperationTweak.other(o, in: OperationDescriptions.platformBare, &rng)
        }
        switch rng.below(5) {
        case 0: req.immediateExit.toggle()
        case 1: req.regs = req.regs == nil ? OperationTweak.patch(RegsPatch.empty, &rng) : nil
        case 2: req.sregs = req.sregs == nil ? OperationTweak.patch(SregsPatch.empty, &rng) : nil
        case 3: req.events = req.events == nil ? OperationTweak.patch(EventsPatch.empty, &rng) : nil
        default:
            if let p = req.sregs, rng.chance(2) { req.sregs = OperationTweak.patch(p, &rng) }
            else if let p = req.events, rng.chance(2) { req.events = OperationTweak.patch(p, &rng) }
            else if let p = req.regs { req.regs = OperationTweak.patch(p, &rng) }
            else { req.sregs = OperationTweak.patch(req.sregs ?? .empty, &rng) }
        }
        return req.operation
    }
}
