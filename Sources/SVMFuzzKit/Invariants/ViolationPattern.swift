// What `expect violation=`, corpus/known-issues.txt and the minimizer name: an invariant id or a whole
// family, optionally with a reason. Parsed once into types; `matches` is the only comparison.

public struct ViolationPattern: Hashable, Sendable, CustomStringConvertible {
    public var family: InvariantFamily
    /// nil: any id of the family.
    public var id: InvariantID?
    /// nil: any reason.
    public var reason: ViolationReason?

    public init(_ code: ViolationCode) {
        family = code.id.family
        id = code.id
        reason = code.reason
    }

    /// `<id-or-family> [<reason>]`, e.g. `unrestorable-state KVM_SET_SREGS:efer-lma` or `kvm-warn`.
    public init?(_ text: Substring) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(parts.count) else { return nil }
        if let f = InvariantFamily(rawValue: String(parts[0])) {
            family = f
            id = InvariantID(parts[0])
        } else if let i = InvariantID(parts[0]) {
            family = i.family
            id = i
        } else {
            return nil
        }
        if parts.count == 2 {
            guard let r = ViolationReason(parts[1]) else { return nil }
            reason = r
        }
    }

    public func matches(_ v: ViolationCode) -> Bool {
        v.id.family == family && (id == nil || id == v.id) && (reason == nil || reason == v.reason)
    }

    public var description: String {
        let head = id?.description ?? family.rawValue
        return reason.map { "\(head) \($0)" } ?? head
    }
}
