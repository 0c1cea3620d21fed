import XCTest
import SVMFuzzKit
import SVMModel

/// `config host_nrips=0|1 host_vls=0|1`: the language, the byte codec (a host byte after 0xc7 that
/// keeps every encoding written before it), the mutator, and what the executor runs with.
final class HostConfigTests: XCTestCase {
    func testParsePrintAndVcpuConfig() throws {
        let text = "config variant=prefix nrips=1 host_nrips=0 host_vls=0\nwrmsr efer 0x1d01\n"
        let p = try SVMText.parse(text, file: "h.svm")
        XCTAssertEqual(p.config.hostNrips, false)
        XCTAssertEqual(p.config.hostVls, false)
        XCTAssertEqual(SVMText.print(p), text)
        let c = p.config.vcpuConfig()
        XCTAssertFalse(c.hostNrips)
        XCTAssertFalse(c.hostVls)
        XCTAssertFalse(c.nripsEnabled, "no host NRIPS: KVM offers the guest none")
        // Absent keys: a host with both.
        let d = ProgramConfig().vcpuConfig()
        XCTAssertTrue(d.hostNrips && d.hostVls)
        XCTAssertThrowsError(try SVMText.parse("config host_nrips=2\n", file: "b.svm")) { e in
            XCTAssertTrue("\(e)".hasPrefix("b.svm:1: "), "\(e)")
        }
    }

    func testHostByteRoundTripsAndOldHeadersKeepTheirMeaning() {
        let tf: [Bool?] = [nil, false, true]
        for n in tf {
            for s in tf {
                for g in [nil, false] as [Bool?] {
                    for f in tf {
                        let p = Program(config: ProgramConfig(variant: .zooB30, npt: false, nrips: g, fep: f, hostNrips: n,
                                                              hostVls: s),
                                        operations: [.run])
                        let bytes = ByteCodec.encode(p)
                        XCTAssertEqual(ByteCodec.decode(bytes), p, "\(bytes)")
                        let host = n != nil || s != nil
                        XCTAssertEqual(bytes.count > 1 && bytes[1] >= 243, host, "host byte only when set")
                        // 0xc7 [H] C X [Y]: the second extension byte only with fep, after X, host byte or not.
                        XCTAssertEqual(bytes.count, (host ? 5 : 4) + (f != nil ? 1 : 0), "\(bytes)")
                        XCTAssertEqual(bytes[host ? 3 : 2] & 0x80 != 0, f != nil, "\(bytes)")
                    }
                }
            }
        }
        // 0xc7 H C X: H = 243 + host_nrips digit + 3 * host_vls digit.
        let h = ByteCodec.decode([0xc7, 243 + 1 + 3 * 2, 0, 0])
        XCTAssertEqual(h.config, ProgramConfig(hostNrips: false, hostVls: true))
        // Both: 0xc7 H C X Y, X & 0x80 announcing Y (fep digit).
        let both = ByteCodec.decode([0xc7, 243 + 2, 0, 0x80 | 1, 2])
        XCTAssertEqual(both.config, ProgramConfig(nrips: false, fep: true, hostNrips: true))
        XCTAssertEqual(ByteCodec.encode(both), [0xc7, 243 + 2, 0, 0x80 | 1, 2])
        // Headers the encoder wrote before (C < 243) decode as they did.
        XCTAssertEqual(ByteCodec.decode([0xc7, 1 + 3 * 2, 1]).config, ProgramConfig(nested: false, npt: true, nrips: false))
        XCTAssertEqual(ByteCodec.decode([0xc5, 250]).config, ByteCodec.decode([0xc5, 7]).config, "0xc5 C still wraps")
        // Every stored input of the corpus decodes to its .svm program.
        let root = CorpusReplayTests.corpus.appendingPathComponent("regressions")
        var checked = 0
        for dir in (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [] {
            let d = root.appendingPathComponent(dir)
            for f in ((try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? []) where f.hasSuffix(".bin") {
                guard let bin = try? Data(contentsOf: d.appendingPathComponent(f)),
                      let text = try? String(contentsOf: d.appendingPathComponent(f.dropLast(4) + ".svm"), encoding: .utf8),
                      let program = try? SVMText.parse(text, file: f) else { XCTFail("\(dir)/\(f)"); continue }
                var want = program
                want.config.fixes = nil
                XCTAssertEqual(ByteCodec.decode([UInt8](bin)).operations, want.operations, "\(dir)/\(f)")
                XCTAssertEqual(ByteCodec.decode([UInt8](bin)).config, want.config, "\(dir)/\(f)")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 30)
    }

    func testTheMutatorReachesTheHostKeys() {
        var seen: Set<String> = []
        var bytes = ByteCodec.encode(Program(operations: [.run]))
        for seed in 0..<4000 where seen.count < 2 {
            guard let out = bytes.withUnsafeBytes({ OperationMutator.mutate($0, maxSize: 64, seed: UInt32(seed)) })
            else { continue }
            let c = ByteCodec.decode(out).config
            if let n = c.hostNrips { seen.insert("nrips=\(n)") }
            if let v = c.hostVls { seen.insert("vls=\(v)") }
            bytes = out.count > 40 ? ByteCodec.encode(Program(operations: [.run])) : out
        }
        // A flip turns a host feature off (present is the default, written as no key).
        XCTAssertEqual(seen, ["nrips=false", "vls=false"])
    }
}
