// Whole operations taken from a libFuzzer dictionary file (-dict=, corpus/svm.dict), for the mutator to
// insert at an operation boundary. libFuzzer itself only inserts dictionary words at random byte
// offsets (inside an operation they change a value instead of adding one), and only in its own byte
// mutations, which the custom mutator calls for half of its inputs. An entry counts when it decodes to
// one or more complete operations with no byte left over (value literals and config headers do not);
// the dictionary knows nothing of any bug, it is the codec's vocabulary (issue 13: "operation-sequence
// splicing from the dictionary").

public struct OperationDictionary: Sendable {
    /// The encoded entries, each one or more whole operations.
    public let entries: [[UInt8]]

    public init(entries: [[UInt8]]) {
        self.entries = entries.filter(OperationDictionary.isWholeOperations)
    }

    public static let none = OperationDictionary(entries: [])

    public var isEmpty: Bool { entries.isEmpty }

    /// The entries of a libFuzzer dictionary text (`name="bytes"` or `"bytes"` lines, `#` comments, `\xNN`,
    /// `\\` and `\"` escapes) that are whole operations. A malformed line is an error naming `file:line`.
    public static func parse(_ text: String, file: String) throws -> OperationDictionary {
        var words: [[UInt8]] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.first == "#" { continue }
            guard let word = word(line) else { throw ParseError(file: file, line: n + 1, message: "not a dictionary entry: \(line)") }
            words.append(word)
        }
        return OperationDictionary(entries: words)
    }

    /// The bytes between the first and the last `"` of a line, unescaped; nil when malformed.
    static func word(_ line: Substring) -> [UInt8]? {
        let chars = Array(line.utf8)
        guard let open = chars.firstIndex(of: UInt8(ascii: "\"")), let close = chars.lastIndex(of: UInt8(ascii: "\"")),
              close > open else { return nil }
        var out: [UInt8] = []
        var i = open + 1
        while i < close {
            guard chars[i] == UInt8(ascii: "\\") else { out.append(chars[i]); i += 1; continue }
            guard i + 1 < close else { return nil }
            switch chars[i + 1] {
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): out.append(chars[i + 1]); i += 2
            case UInt8(ascii: "x"):
                guard i + 3 < close, let v = UInt8(String(decoding: chars[(i + 2)...(i + 3)], as: UTF8.self), radix: 16)
                else { return nil }
                out.append(v); i += 4
            default: return nil
            }
        }
        return out
    }

    /// Whether `bytes`, read as operations (no config header), end exactly at an operation boundary.
    static func isWholeOperations(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        return bytes.withUnsafeBytes { raw in
            var d = OperationDecoder(body: raw)
            while d.skipEncoded() { if d.ranOut { return false } }
            return d.offset == bytes.count
        }
    }
}
