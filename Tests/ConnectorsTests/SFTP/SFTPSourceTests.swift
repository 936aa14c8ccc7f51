import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import SFTPConnector
import Foundation
import Logging
import Testing
import TestSupport

/// The throwaway sshd servers of `scripts/ssh-start.sh` on 127.0.0.1: `main` (port 2222, ed25519,
/// ECDSA and RSA host keys) and `rsaonly` (port 2223). Locally the suite is skipped (with this
/// reason) when they are not running; under CI (`CI=true`) it always runs.
enum TestSSH {
    static let base = ProcessInfo.processInfo.environment["SLUICE_SSH_DIR"] ?? "/tmp/sluice-test-ssh"
    static let client = "\(base)/client"
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available = TestServers.isListening(2222) && TestServers.isListening(2223)
    static let enabled = available || required

    static func hostKeyLine(_ type: String, port: Int = 2222) throws -> String {
        let pub = try String(contentsOfFile: "\(base)/hostkeys/ssh_host_\(type)_key.pub", encoding: .utf8)
        return "[127.0.0.1]:\(port) " + pub.split(separator: " ").prefix(2).joined(separator: " ")
    }

    /// A fresh folder on the server: its local path and its sftp:// URL.
    static func folder() throws -> (local: String, url: String) {
        let local = "\(base)/data/t-" + UUID().uuidString.prefix(8).lowercased()
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        return (local, "sftp://sluicetest@127.0.0.1:2222\(local)")
    }

    static func configuration(_ url: String, _ configure: (inout SFTPConfiguration) -> Void = { _ in }) -> SFTPConfiguration {
        var c = SFTPConfiguration(url: url)
        c.privateKey = "\(client)/id_ed25519"
        c.knownHosts = "\(client)/known_hosts"
        c.selection.glob = "*"
        c.selection.settle = ConfigDuration(seconds: 0)
        c.connectTimeout = ConfigDuration(seconds: 5)
        c.readTimeout = ConfigDuration(seconds: 20)
        configure(&c)
        return c
    }

    static func knownHosts(_ lines: [String]) throws -> String {
        let path = NSTemporaryDirectory() + "sluice-known-\(UUID().uuidString.prefix(8))"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

typealias SFTPHarness = RemoteHarness<SSHSession>

extension RemoteHarness where Client == SSHSession {
    convenience init(_ configuration: SFTPConfiguration) throws {
        try configuration.validate()
        self.init(source: try configuration.makeSource(context: testBuildContext))
    }
}

@Suite(.blockingWork, .enabled(if: TestSSH.enabled, "no sshd on 127.0.0.1:2222/2223: run scripts/ssh-start.sh (under CI this suite always runs)"))
struct SFTPSourceTests {
    @Test func keyLoginsWorkEd25519ECDSAAndPassphrase() async throws {
        let (local, url) = try TestSSH.folder()
        try ("a;b\n" + csvLines(1...5)).write(toFile: "\(local)/m.csv", atomically: false, encoding: .utf8)
        let variants: [(String, (inout SFTPConfiguration) -> Void)] = [
            ("ed25519", { _ in }),
            ("ecdsa", { $0.privateKey = "\(TestSSH.client)/id_ecdsa" }),
            ("passphrase", { $0.privateKey = "\(TestSSH.client)/id_ed25519_pass"; $0.passphrase = Secret("sluice-pass") }),
        ]
        for (name, configure) in variants {
            let h = try SFTPHarness(TestSSH.configuration(url, configure))
            try await h.run()
            #expect(h.rows == (1...5).map { "\($0);value \($0)" }, "\(name)")
        }
    }

    @Test func passwordLoginWhenAskedAndAWrongPasswordIsRefused() async throws {
        let (local, url) = try TestSSH.folder()
        try ("a;b\n" + csvLines(1...2)).write(toFile: "\(local)/m.csv", atomically: false, encoding: .utf8)
        let ok = try SFTPHarness(TestSSH.configuration(url) { $0.privateKey = nil; $0.password = Secret("testpw") })
        try await ok.run()
        #expect(ok.rows.count == 2)
        let wrong = try SFTPHarness(TestSSH.configuration(url) { $0.privateKey = nil; $0.password = Secret("Wrong-Pw-99") })
        let e = await wrong.failure()
        #expect(e?.code == .authentication)
        #expect(e?.description.contains("refused the password for user sluicetest") == true, "\(String(describing: e))")
        #expect(e?.description.contains("Wrong-Pw-99") == false)
    }

    /// A server that accepts the TCP connection but never speaks SSH: the read timeout ends the
    /// handshake, and it is a retryable timeout.
    @Test func aSilentServerTimesOut() async throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        #expect(listen(fd, 4) == 0)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let h = try SFTPHarness(TestSSH.configuration("sftp://sluicetest@127.0.0.1:\(port)/tmp") { $0.readTimeout = ConfigDuration(seconds: 1) })
        let e = await h.failure()
        #expect(e?.code == .notConnected)
        #expect(e?.description.contains("timed out") == true, "\(String(describing: e))")
    }

    @Test func wrongKeyWrongPassphraseAndRSAKeyAreRefusedClearly() async throws {
        let (_, url) = try TestSSH.folder()
        let other = try SFTPHarness(TestSSH.configuration(url) { $0.privateKey = "\(TestSSH.client)/id_other" })
        let e1 = await other.failure()
        #expect(e1?.code == .authentication)
        #expect(e1?.description.contains("refused the key \(TestSSH.client)/id_other for user sluicetest") == true, "\(String(describing: e1))")

        let phrase = try SFTPHarness(TestSSH.configuration(url) { $0.privateKey = "\(TestSSH.client)/id_ed25519_pass"; $0.passphrase = Secret("Not-It-17") })
        let e2 = await phrase.failure()
        #expect(e2?.code == .authentication)
        #expect(e2?.description.contains("wrong passphrase") == true, "\(String(describing: e2))")
        #expect(e2?.description.contains("Not-It-17") == false)

        let rsa = try SFTPHarness(TestSSH.configuration(url) { $0.privateKey = "\(TestSSH.client)/id_rsa" })
        let e3 = await rsa.failure()
        #expect(e3?.code == .authentication)
        let text = e3?.description ?? ""
        #expect(text.contains("RSA key") && text.contains("SHA-1") && text.contains("ssh-keygen -t ed25519"), "\(text)")
        #expect(!text.contains("libssh2 error"), "a bare libssh2 code: \(text)")
    }

    @Test func unknownHostKeyIsRefusedWithItsFingerprintAndTheLineToAdd() async throws {
        let (_, url) = try TestSSH.folder()
        let empty = try TestSSH.knownHosts([])
        let h = try SFTPHarness(TestSSH.configuration(url) { $0.knownHosts = empty })
        let e = await h.failure()
        #expect(e?.code == .authentication)
        let text = e?.description ?? ""
        let line = try TestSSH.hostKeyLine("ed25519")
        #expect(text.contains("unknown host key") && text.contains("SHA256:") && text.contains(line), "\(text)")
        // The printed line, added as told, makes the host known.
        try (line + "\n").write(toFile: empty, atomically: true, encoding: .utf8)
        try await SFTPHarness(TestSSH.configuration(url) { $0.knownHosts = empty }).run()
    }

    /// A refused host key ends the attempt's SSH session and socket: twenty refusals through the
    /// fault proxy leave no connection open (each leaked socket would stay open at the proxy).
    @Test func refusedHostKeysLeakNoSessionOrSocket() async throws {
        let (_, url) = try TestSSH.folder()
        let proxy = try FaultProxy(upstreamPort: 2222)
        defer { proxy.stop() }
        let empty = try TestSSH.knownHosts([])
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let h = try SFTPHarness(TestSSH.configuration(url.replacingOccurrences(of: ":2222/", with: ":\(proxy.port)/")) { $0.knownHosts = empty })
        for _ in 0..<20 {
            let e = await h.failure()
            #expect(e?.code == .authentication)
        }
        #expect(proxy.connections.accepted >= 20)
        let deadline = Date().addingTimeInterval(5)
        while proxy.connections.open > 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(proxy.connections.open == 0, "\(proxy.connections.open) connections still open after 20 refused host keys")
    }

    @Test func changedHostKeyIsRefusedLoudlyEvenWithAcceptNew() async throws {
        let (_, url) = try TestSSH.folder()
        let otherKey = try String(contentsOfFile: "\(TestSSH.client)/id_other.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        let forged = try TestSSH.knownHosts(["[127.0.0.1]:2222 \(otherKey)"])
        for policy in [HostKeyPolicy.strict, .acceptNew] {
            let h = try SFTPHarness(TestSSH.configuration(url) { $0.knownHosts = forged; $0.hostKey = policy })
            let e = await h.failure()
            #expect(e?.code == .authentication)
            #expect(e?.description.contains("HOST KEY CHANGED for [127.0.0.1]:2222") == true, "\(String(describing: e))")
            #expect(h.rows.isEmpty)
        }
        #expect(try String(contentsOfFile: forged, encoding: .utf8) == "[127.0.0.1]:2222 \(otherKey)\n", "known_hosts must not be touched")
    }

    @Test func acceptNewRecordsTheKeyOfANewHostOnce() async throws {
        let (local, url) = try TestSSH.folder()
        try ("a;b\n" + csvLines(1...2)).write(toFile: "\(local)/m.csv", atomically: false, encoding: .utf8)
        let path = NSTemporaryDirectory() + "sluice-known-new-\(UUID().uuidString.prefix(8))/known_hosts"
        try await SFTPHarness(TestSSH.configuration(url) { $0.knownHosts = path; $0.hostKey = .acceptNew }).run()
        let recorded = try String(contentsOfFile: path, encoding: .utf8)
        #expect(recorded == "\(try TestSSH.hostKeyLine("ed25519"))\n")
        // Now known: a strict source accepts it, and nothing more is recorded.
        let h = try SFTPHarness(TestSSH.configuration(url) { $0.knownHosts = path })
        try await h.run()
        #expect(h.rows.count == 2)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == recorded)
    }

    /// libssh2 negotiates ECDSA first; a host recorded by one key type alone must still match.
    @Test func aHostKnownByOneKeyTypeIsRecognised() async throws {
        let (local, url) = try TestSSH.folder()
        try ("a;b\n" + csvLines(1...2)).write(toFile: "\(local)/m.csv", atomically: false, encoding: .utf8)
        for type in ["ed25519", "ecdsa"] {
            let file = try TestSSH.knownHosts(["# other hosts first", "[10.0.0.9]:22 \(try TestSSH.hostKeyLine("rsa").split(separator: " ").dropFirst().joined(separator: " "))",
                                               try TestSSH.hostKeyLine(type)])
            let h = try SFTPHarness(TestSSH.configuration(url) { $0.knownHosts = file })
            try await h.run()
            #expect(h.rows.count == 2, "\(type)")
        }
    }

    @Test func rsaOnlyHostFailsWithAMessageSuggestingEd25519() async throws {
        let h = try SFTPHarness(TestSSH.configuration("sftp://sluicetest@127.0.0.1:2223/tmp") { $0.knownHosts = "\(TestSSH.client)/known_hosts_rsaonly" })
        let e = await h.failure()
        #expect(e?.code == .authentication)
        let text = e?.description ?? ""
        #expect(text.contains("only an RSA host key") && text.contains("ed25519") && text.contains("rsa-sha2"), "\(text)")
    }

    /// Counted on the wire, by the fault proxy between the client and sshd: the second run moves
    /// the appended bytes, the identity checks, and SSH's own handshake and login (a new
    /// connection each run), never the 4 MiB already loaded.
    @Test func appendMovesOnlyTheNewBytes() async throws {
        let (local, url) = try TestSSH.folder()
        defer { try? FileManager.default.removeItem(atPath: local) }
        let path = "\(local)/big.csv"
        var text = "a;b\n"
        var i = 0
        while text.utf8.count < 4 << 20 { i += 1; text += "\(i);\(String(repeating: "y", count: 60))\n" }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let proxy = try FaultProxy(upstreamPort: 2222)
        defer { proxy.stop() }
        let knownHosts = try TestSSH.knownHosts(["ed25519", "ecdsa", "rsa"].map { try TestSSH.hostKeyLine($0, port: proxy.port) })
        defer { try? FileManager.default.removeItem(atPath: knownHosts) }
        let h = try SFTPHarness(TestSSH.configuration(url.replacingOccurrences(of: ":2222/", with: ":\(proxy.port)/")) { $0.knownHosts = knownHosts })
        try await h.run()
        #expect(h.rows.count == i)
        let added = csvLines(1...25)
        let f = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try f.seekToEnd()
        try f.write(contentsOf: Data(added.utf8))
        try f.close()
        proxy.resetCounters()
        let c = try await h.run()
        let wire = proxy.bytes
        #expect(h.rows.count == i + 25)
        #expect(c.bytesRead == Int64(added.utf8.count))
        // libssh2's read-ahead would show here: it is bounded by the file's end.
        #expect(wire.downstream >= Int64(added.utf8.count) && wire.downstream <= Int64(added.utf8.count) + 1024 + 4096 + 16_384,
                "\(wire.downstream) bytes came from the server, \(wire.upstream) went to it")
    }

    @Test func rewriteInPlaceYieldsOnlyNewLinesAndRotationReadsFromTheStart() async throws {
        let (local, url) = try TestSSH.folder()
        let path = "\(local)/log.csv"
        try ("a;b\n" + csvLines(1...20)).write(toFile: path, atomically: false, encoding: .utf8)
        let h = try SFTPHarness(TestSSH.configuration(url))
        try await h.run()
        try ("a;b\n" + csvLines(1...23)).write(toFile: path, atomically: false, encoding: .utf8)
        var c = try await h.run()
        #expect(h.rows.count == 23 && c.filesRestarted == 0)
        #expect(Array(h.rows.suffix(3)) == (21...23).map { "\($0);value \($0)" })
        try FileManager.default.removeItem(atPath: path)
        try ("a;b\n" + csvLines(700...704)).write(toFile: path, atomically: false, encoding: .utf8)
        c = try await h.run()
        #expect(c.filesRestarted == 1)
        #expect(h.rows.count == 28)
        #expect(Array(h.rows.suffix(5)) == (700...704).map { "\($0);value \($0)" })
    }

    @Test func emptyFilesFoldersSymlinksAndUnreadableFilesAreHandled() async throws {
        let (local, url) = try TestSSH.folder()
        let fm = FileManager.default
        try ("a;b\n" + csvLines(1...4)).write(toFile: "\(local)/good.csv", atomically: false, encoding: .utf8)
        _ = fm.createFile(atPath: "\(local)/empty.csv", contents: Data())
        try fm.createDirectory(atPath: "\(local)/folder.csv", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: "\(local)/loop1.csv", withDestinationPath: "\(local)/loop2.csv")
        try fm.createSymbolicLink(atPath: "\(local)/loop2.csv", withDestinationPath: "\(local)/loop1.csv")
        try fm.createSymbolicLink(atPath: "\(local)/link.csv", withDestinationPath: "\(local)/good.csv")
        try ("a;b\n" + csvLines(9...9)).write(toFile: "\(local)/secret.csv", atomically: false, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(local)/secret.csv")
        let h = try SFTPHarness(TestSSH.configuration(url) { $0.selection.glob = "*.csv" })
        let context = RunContext(pipeline: "sftp-test", logger: Logger(label: "sftp-test"))
        try await h.engine.runOnce(context: context)
        // good.csv, and the same rows through link.csv; nothing from the others.
        let good = (1...4).map { "\($0);value \($0)" }
        #expect(h.rows.sorted() == (good + good).sorted())
        #expect(context.stats.counts.fileErrors == 1)
        #expect(context.stats.counts.errors.contains { $0.contains("secret.csv") && $0.contains("permission denied") }, "\(context.stats.counts.errors)")
        #expect(h.sink.checkpoint.files["empty.csv"] == nil || h.sink.checkpoint.files["empty.csv"]?.offset == 0)
    }

    @Test func unreachableServerIsRetriedAndNamed() async throws {
        let h = try SFTPHarness(TestSSH.configuration("sftp://sluicetest@127.0.0.1:2229/tmp"))
        let context = RunContext(pipeline: "sftp-test", logger: Logger(label: "sftp-test"))
        do {
            try await h.engine.runRetrying(context: context, attempts: 2, maxDelay: 0.1)
            Issue.record("an unreachable server must fail")
        } catch let e as ConnectorError {
            #expect(e.code == .notConnected)
            #expect(e.description.contains("cannot reach 127.0.0.1:2229"), "\(e)")
        }
        #expect(context.stats.counts.retries == 1)
    }
}

@Suite(.blockingWork) struct SFTPSettingsTests {
    @Test func urlsParse() throws {
        let e = try SFTPEndpoint(url: "sftp://etl@line-01.plant.lan:2222/var/log/line/", username: nil)
        #expect(e.user == "etl" && e.host == "line-01.plant.lan" && e.port == 2222 && e.directory == "/var/log/line")
        #expect(e.path("a/b.csv") == "/var/log/line/a/b.csv")
        #expect(e.knownHostsName == "[line-01.plant.lan]:2222")
        let home = try SFTPEndpoint(url: "sftp://h/~/logs", username: "etl")
        #expect(home.directory == "logs" && home.port == 22 && home.knownHostsName == "h")
        for bad in ["sftp://etl:pw@h/x", "sftp://h/x", "sftp://etl@h", "sftp://etl@h/x/../y", "ssh://etl@h/x"] {
            #expect(throws: ConfigIssue.self, "\(bad)") { try SFTPEndpoint(url: bad, username: nil) }
        }
    }

    @Test func aKeyOrAPasswordIsRequiredNotBoth() throws {
        var c = SFTPConfiguration(url: "sftp://etl@h/x")
        #expect(throws: ConfigIssue.self) { try c.validate() }
        c.password = Secret("x")
        try c.validate()
        c.privateKey = "/k"
        #expect(throws: ConfigIssue.self) { try c.validate() }
    }

    @Test func fingerprintsAreOpenSSHStyle() {
        #expect(KnownHostsFile.fingerprint(sha256: Array(repeating: 0, count: 32)) == "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    }
}
