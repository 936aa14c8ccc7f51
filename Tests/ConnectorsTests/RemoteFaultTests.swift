import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
import Foundation
import Testing
import TestSupport

/// A 50 MB file pulled over SMB (NT1 and SMB3) and SFTP through the fault proxy; the connection is
/// cut (reset) or stalled mid-transfer. The run fails cleanly, the next one resumes at the
/// committed offset, and every line arrives exactly once, in order, every column intact.
@Suite(.blockingWork, .serialized, .enabled(if: TestSamba.enabled && TestSSH.enabled, "needs the Samba and sshd test servers (under CI this suite always runs)"))
struct RemoteFaultTests {
    static let lines = TestScale.rows(2_600_000) // ≈ 50 MB

    /// `a;b` then `n;value n` for n in 1...lines.
    static func writeBigFile(_ path: String) throws {
        var out: [UInt8] = Array("a;b\n".utf8)
        out.reserveCapacity(52 << 20)
        for n in 1...lines {
            let s = String(n)
            out += s.utf8
            out += Array(";value ".utf8)
            out += s.utf8
            out.append(0x0A)
        }
        try Data(out).write(to: URL(fileURLWithPath: path))
    }

    /// Every committed row, checked against its number: nothing lost, repeated, reordered or altered.
    static func verify(_ sink: CollectingSink, expected: Int) {
        var next = 1
        var bad = 0
        for batch in sink.batches {
            guard case let .string(a) = batch.columns[0].values, case let .string(b) = batch.columns[1].values else { bad += 1; continue }
            for r in 0..<batch.count {
                if a[r] != String(next) || b[r] != "value \(next)" { bad += 1 }
                next += 1
            }
        }
        #expect(bad == 0, "\(bad) rows out of place or altered")
        #expect(next - 1 == expected, "\(next - 1) rows committed, expected \(expected)")
    }

    enum Fault { case cut, stall }

    /// Runs a pull through the proxy, injecting `fault` after `afterBytes` from the server; then runs
    /// again and checks the whole file arrived once.
    func pull<C: RemoteFileClient>(_ harness: RemoteHarness<C>, proxy: FaultProxy, fault: Fault, afterBytes: Int64 = TestScale.bytes(20_000_000)) async throws {
        proxy.arm(fault == .cut ? .cut : .stall, afterDownstreamBytes: afterBytes)
        let started = Date()
        // A lost connection fails the run, or (when the listing survived and only the file's read
        // broke) is reported as that file's error: either way the run says so.
        var reported = false
        do {
            let counts = try await harness.run()
            reported = counts.fileErrors > 0
        } catch {
            reported = true
        }
        #expect(reported, "the run neither failed nor reported a file error after the \(fault)")
        #expect(proxy.faultsFired == 1)
        let partial = harness.sink.batches.reduce(0) { $0 + $1.count }
        #expect(partial < Self.lines, "the whole file arrived in spite of the \(fault)")
        if fault == .stall {
            #expect(Date().timeIntervalSince(started) < 60, "the stalled transfer was not ended by the timeout")
            proxy.cutAll()
            proxy.setMode(.pass)
        }
        let second = try await harness.run()
        #expect(second.fileErrors == 0)
        Self.verify(harness.sink, expected: Self.lines)
    }

    @Test(arguments: [("nt1", Fault.cut), ("nt1", .stall), ("smb3", .cut), ("smb3", .stall)])
    func smbTransferCutOrStalledResumesAtTheCommittedOffset(variant: String, fault: Fault) async throws {
        let (local, url) = try TestSamba.folder(variant)
        defer { try? FileManager.default.removeItem(atPath: local) }
        try Self.writeBigFile("\(local)/big.csv")
        let proxy = try FaultProxy(upstreamPort: TestSamba.ports[variant]!)
        defer { proxy.stop() }
        let proxied = url.replacingOccurrences(of: ":\(TestSamba.ports[variant]!)/", with: ":\(proxy.port)/")
        let h = try SMBHarness(TestSamba.configuration(proxied) { c in
            if variant == "nt1" { c.protocols = "NT1" }
            c.timeout = ConfigDuration(seconds: 3)
        })
        try await pull(h, proxy: proxy, fault: fault)
    }

    @Test(arguments: [Fault.cut, .stall])
    func sftpTransferCutOrStalledResumesAtTheCommittedOffset(fault: Fault) async throws {
        let (local, url) = try TestSSH.folder()
        defer { try? FileManager.default.removeItem(atPath: local) }
        try Self.writeBigFile("\(local)/big.csv")
        let proxy = try FaultProxy(upstreamPort: 2222)
        defer { proxy.stop() }
        let knownHosts = try TestSSH.knownHosts(["ed25519", "ecdsa", "rsa"].map { try TestSSH.hostKeyLine($0, port: proxy.port) })
        defer { try? FileManager.default.removeItem(atPath: knownHosts) }
        let h = try SFTPHarness(TestSSH.configuration(url.replacingOccurrences(of: ":2222/", with: ":\(proxy.port)/")) { c in
            c.knownHosts = knownHosts
            c.readTimeout = ConfigDuration(seconds: 3)
        })
        try await pull(h, proxy: proxy, fault: fault)
    }
}
