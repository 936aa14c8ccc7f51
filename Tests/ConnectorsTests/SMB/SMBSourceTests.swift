import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import SMBConnector
import Foundation
import Logging
import Testing
import TestSupport

/// The throwaway Samba servers of `scripts/smb-start.sh` on 127.0.0.1: `nt1` (SMB1 only, the
/// Windows XP stand-in, port 4451) and `smb3` (port 4453). Locally the suites are skipped (with
/// this reason) when they are not running; under CI (`CI=true`) they always run, so a missing
/// server fails them.
enum TestSamba {
    static let base = ProcessInfo.processInfo.environment["SLUICE_SMB_DIR"] ?? "/tmp/sluice-test-smb"
    static let ports = ["nt1": 4451, "smb3": 4453]
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available = ports.values.allSatisfy(TestServers.isListening)
    static let enabled = available || required

    /// A fresh folder in a share: its local path (the server's disk) and its smb:// URL.
    static func folder(_ variant: String, share: String = "logs") throws -> (local: String, url: String) {
        let name = "t-" + UUID().uuidString.prefix(8).lowercased()
        let local = "\(base)/\(variant)/\(share)/\(name)"
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        return (local, "smb://127.0.0.1:\(ports[variant]!)/\(share)/\(name)")
    }

    static func configuration(_ url: String, _ configure: (inout SMBConfiguration) -> Void = { _ in }) -> SMBConfiguration {
        var c = SMBConfiguration(url: url)
        c.username = "sluicetest"
        c.password = Secret("testpw")
        c.selection.glob = "*"
        c.selection.settle = ConfigDuration(seconds: 0)
        c.timeout = ConfigDuration(seconds: 10)
        configure(&c)
        return c
    }

    static func source(_ c: SMBConfiguration) throws -> TailingSource<SMBFileSystem> {
        try c.validate()
        return try c.makeSource(context: testBuildContext)
    }
}

typealias SMBHarness = RemoteHarness<SMBClient>

extension RemoteHarness where Client == SMBClient {
    convenience init(_ configuration: SMBConfiguration, encoding: TextEncoding = .utf8) throws {
        self.init(source: try TestSamba.source(configuration), encoding: encoding)
    }
}

@Suite(.blockingWork, .enabled(if: TestSamba.enabled, "no Samba on 127.0.0.1:4451/4453: run scripts/smb-start.sh (under CI this suite always runs)"))
struct SMBSourceTests {
    @Test func nt1ServerIsRefusedWithoutProtocolsAndWorksWithThem() async throws {
        let (local, url) = try TestSamba.folder("nt1")
        try ("a;b\r\n" + csvLines(1...5)).write(toFile: "\(local)/log.txt", atomically: false, encoding: .utf8)

        let refused = try SMBHarness(TestSamba.configuration(url))
        let error = await #expect(throws: ConnectorError.self) { try await refused.run() }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("protocols = \"NT1\"") == true, "\(String(describing: error))")
        #expect(refused.rows.isEmpty)

        let allowed = try SMBHarness(TestSamba.configuration(url) { $0.protocols = "NT1" })
        try await allowed.run()
        #expect(allowed.rows == (1...5).map { "\($0);value \($0)" })
    }

    /// libsmbclient's dialect range is process-global: one source allowing SMB1 must not open
    /// SMB1 to another in the same process.
    @Test func anotherSourceAllowingSMB1DoesNotAllowItForThisOne() async throws {
        let (local, url) = try TestSamba.folder("nt1")
        try ("a;b\r\n" + csvLines(1...2)).write(toFile: "\(local)/log.txt", atomically: false, encoding: .utf8)
        let xp = try SMBHarness(TestSamba.configuration(url) { $0.protocols = "NT1" })
        let modern = try SMBHarness(TestSamba.configuration(url))
        for _ in 0..<2 {
            try await xp.run()
            await #expect(throws: ConnectorError.self) { try await modern.run() }
        }
        #expect(xp.rows.count == 2)
        #expect(modern.rows.isEmpty)
    }

    /// Each setting reads the share, and the setting shows on the wire (seen through the fault
    /// proxy): the file's text crosses in clear only with `encryption = "off"`.
    @Test func everyEncryptionSettingReadsTheSMB3ShareAndShowsOnTheWire() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let marker = "PLAINTEXT-MARKER-\(UUID().uuidString)"
        try ("a;b\r\n" + csvLines(1...3) + "4;\(marker)\r\n").write(toFile: "\(local)/x.csv", atomically: false, encoding: .utf8)
        for setting in [SMBEncryption.auto, .required, .off] {
            let proxy = try FaultProxy(upstreamPort: TestSamba.ports["smb3"]!)
            defer { proxy.stop() }
            proxy.watchDownstream(for: marker)
            let h = try SMBHarness(TestSamba.configuration(url.replacingOccurrences(of: ":4453/", with: ":\(proxy.port)/")) { $0.encryption = setting })
            try await h.run()
            #expect(h.rows.count == 4, "\(setting)")
            #expect(h.rows.last == "4;\(marker)")
            #expect(proxy.seenInClear == (setting == .off), "\(setting): the file's text was \(proxy.seenInClear ? "" : "not ")seen in clear on the wire")
        }
    }

    @Test func smb3ServerWorksByDefaultAndResumes() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        try ("a;b\r\n" + csvLines(1...100)).write(toFile: "\(local)/data.csv", atomically: false, encoding: .utf8)
        try await SourceConformance.checkResume(
            source: TestSamba.source(TestSamba.configuration(url)), decoder: semicolonCSV(),
            append: {
                let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(local)/data.csv"))
                try h.seekToEnd()
                try h.write(contentsOf: Data(csvLines(101...107).utf8))
                try h.close()
            },
            expectFirst: 100, expectAppended: 7)
    }

    /// What the XP machines do: truncate the log and write it again, same history plus new lines.
    @Test func fileRewrittenInPlaceWithThreeMoreLinesYieldsExactlyThree() async throws {
        let (local, url) = try TestSamba.folder("nt1")
        let path = "\(local)/log.txt"
        try ("a;b\r\n" + csvLines(1...40)).write(toFile: path, atomically: false, encoding: .utf8)
        let h = try SMBHarness(TestSamba.configuration(url) { $0.protocols = "NT1" })
        try await h.run()
        #expect(h.rows.count == 40)
        try ("a;b\r\n" + csvLines(1...43)).write(toFile: path, atomically: false, encoding: .utf8) // O_TRUNC, same inode
        let c = try await h.run()
        #expect(h.rows.count == 43)
        #expect(Array(h.rows.suffix(3)) == (41...43).map { "\($0);value \($0)" })
        #expect(c.filesRestarted == 0)
    }

    /// Counted on the wire, by the fault proxy between the client and the server: the second run
    /// moves the appended bytes, the identity checks and the protocol's own messages, never the
    /// 4 MiB already loaded.
    @Test func appendMovesOnlyTheNewBytes() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        defer { try? FileManager.default.removeItem(atPath: local) }
        let path = "\(local)/big.csv"
        var text = "a;b\r\n"
        var i = 0
        while text.utf8.count < 4 << 20 { i += 1; text += "\(i);\(String(repeating: "x", count: 60))\r\n" }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let proxy = try FaultProxy(upstreamPort: TestSamba.ports["smb3"]!)
        defer { proxy.stop() }
        let h = try SMBHarness(TestSamba.configuration(url.replacingOccurrences(of: ":4453/", with: ":\(proxy.port)/")))
        try await h.run()
        #expect(h.rows.count == i)
        #expect(proxy.bytes.downstream >= Int64(text.utf8.count))

        let added = csvLines(1...20)
        let f = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try f.seekToEnd()
        try f.write(contentsOf: Data(added.utf8))
        try f.close()
        proxy.resetCounters()
        let c = try await h.run()
        let wire = proxy.bytes
        #expect(h.rows.count == i + 20)
        #expect(c.bytesRead == Int64(added.utf8.count))
        // The new bytes, the checks of the file's identity (its first KiB and the 4 KiB before the
        // saved position) and SMB's own headers, listing and stat replies.
        #expect(wire.downstream >= Int64(added.utf8.count) && wire.downstream <= Int64(added.utf8.count) + 1024 + 4096 + 16_384,
                "\(wire.downstream) bytes came from the server, \(wire.upstream) went to it")
    }

    @Test func rotatedFileIsReadFromTheStart() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        let path = "\(local)/log.csv"
        try ("a;b\r\n" + csvLines(1...30)).write(toFile: path, atomically: false, encoding: .utf8)
        let h = try SMBHarness(TestSamba.configuration(url))
        try await h.run()
        // Rotated: a new file under the same name, with other content.
        try FileManager.default.removeItem(atPath: path)
        try ("a;b\r\n" + csvLines(501...510)).write(toFile: path, atomically: false, encoding: .utf8)
        let c = try await h.run()
        #expect(c.filesRestarted == 1)
        #expect(Array(h.rows.suffix(10)) == (501...510).map { "\($0);value \($0)" })
        #expect(h.rows.count == 40)
    }

    @Test func refusedLoginIsOneClearErrorNeverRetriedAndNeverGuest() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        try ("a;b\r\n" + csvLines(1...3)).write(toFile: "\(local)/x.csv", atomically: false, encoding: .utf8)
        let h = try SMBHarness(TestSamba.configuration(url) { $0.password = Secret("Not-The-Pw-42") })
        let context = RunContext(pipeline: "smb-test", logger: Logger(label: "smb-test"))
        let error = await #expect(throws: ConnectorError.self) { try await h.engine.runRetrying(context: context, attempts: 5) }
        #expect(error?.code == .authentication)
        #expect(context.stats.counts.retries == 0)
        let text = error?.description ?? ""
        #expect(text.contains("127.0.0.1") && text.contains("share logs") && text.contains("'sluicetest'"), "\(text)")
        #expect(!text.contains("Not-The-Pw-42"), "the password must not appear in messages: \(text)")

        // A share that admits guests: a wrong password, or a user the server does not know (which
        // Samba maps to guest), is still refused rather than served as guest.
        let (pub, pubURL) = try TestSamba.folder("smb3", share: "public")
        try ("a;b\r\n" + csvLines(1...3)).write(toFile: "\(pub)/x.csv", atomically: false, encoding: .utf8)
        for user in ["sluicetest", "nosuchuser"] {
            let g = try SMBHarness(TestSamba.configuration(pubURL) { $0.username = user; $0.password = Secret("wrong") })
            let e = await #expect(throws: ConnectorError.self) { try await g.run() }
            #expect(e?.code == .authentication, "\(user): \(String(describing: e))")
            #expect(g.rows.isEmpty)
        }
        // Guest access when the pipeline asks for it.
        for variant in ["nt1", "smb3"] {
            let (dir, guestURL) = try TestSamba.folder(variant, share: "public")
            try ("a;b\r\n" + csvLines(1...3)).write(toFile: "\(dir)/x.csv", atomically: false, encoding: .utf8)
            let g = try SMBHarness(TestSamba.configuration(guestURL) { c in
                c.username = nil
                c.password = nil
                c.guest = true
                if variant == "nt1" { c.protocols = "NT1" }
            })
            try await g.run()
            #expect(g.rows.count == 3, "\(variant)")
        }
    }

    /// XP stores names in its ANSI code page (Windows-1252); SMB carries them as UTF-16.
    @Test func nonASCIIFileNamesWork() async throws {
        let (local, url) = try TestSamba.folder("nt1")
        let name = "Prüfstand Pressão ß #1 (café).txt"
        let content: [UInt8] = Array("a;b\r\n1;Pressão\r\n2;Operação\r\n".data(using: .windowsCP1252)!)
        _ = FileManager.default.createFile(atPath: "\(local)/\(name)", contents: Data(content))
        let h = try SMBHarness(TestSamba.configuration(url) { $0.protocols = "NT1" }, encoding: .windows1252)
        try await h.run()
        #expect(h.rows == ["1;Pressão", "2;Operação"])
        #expect(h.sink.checkpoint.files[name] != nil, "\(h.sink.checkpoint.files.keys)")
    }

    @Test func unreadableFileIsReportedByNameAndTheRestLoad() async throws {
        let (local, url) = try TestSamba.folder("smb3")
        try ("a;b\r\n" + csvLines(1...4)).write(toFile: "\(local)/good.csv", atomically: false, encoding: .utf8)
        try ("a;b\r\n" + csvLines(5...6)).write(toFile: "\(local)/secret.csv", atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(local)/secret.csv")
        let h = try SMBHarness(TestSamba.configuration(url))
        let context = RunContext(pipeline: "smb-test", logger: Logger(label: "smb-test"))
        try await h.engine.runOnce(context: context)
        #expect(h.rows.count == 4)
        #expect(context.stats.counts.fileErrors == 1)
        #expect(context.stats.counts.errors.contains { $0.contains("secret.csv") && $0.contains("permission denied") }, "\(context.stats.counts.errors)")
    }

    @Test func missingShareAndUnreachableServerAreNamed() async throws {
        let noShare = try SMBHarness(TestSamba.configuration("smb://127.0.0.1:4453/nosuchshare"))
        let e1 = await #expect(throws: ConnectorError.self) { try await noShare.run() }
        #expect(e1?.code == .configuration)
        #expect(e1?.description.contains("no share nosuchshare") == true, "\(String(describing: e1))")

        let down = try SMBHarness(TestSamba.configuration("smb://127.0.0.1:4459/logs"))
        let e2 = await #expect(throws: ConnectorError.self) { try await down.run() }
        #expect(e2?.code == .notConnected)
        #expect(e2?.description.contains("cannot reach 127.0.0.1:4459") == true, "\(String(describing: e2))")
    }
}

/// What a pipeline file may say, and what a server may send back, never reaches outside the
/// source's folder.
@Suite(.blockingWork) struct SMBSettingsTests {
    @Test func urlsParseAndRejectCredentialsAndDotDot() throws {
        let e = try SMBEndpoint(url: "smb://press-01.plant.lan:4451/logs/line 1")
        #expect(e.host == "press-01.plant.lan" && e.port == 4451 && e.share == "logs" && e.directory == "line 1")
        #expect(e.url("a/Pressão #1.txt") == "smb://press-01.plant.lan:4451/logs/line%201/a/Press%C3%A3o%20%231.txt")
        for bad in ["smb://user:pw@host/logs", "smb://host", "smb://host/logs/../etc", "http://host/logs", "smb://host:99999/logs"] {
            #expect(throws: ConfigIssue.self, "\(bad)") { try SMBEndpoint(url: bad) }
        }
    }

    @Test func protocolsNeverIncludeSMB1UnlessAsked() throws {
        #expect(!SMBProtocolRange.modern.allowsSMB1)
        #expect(try SMBProtocolRange(setting: "NT1") == SMBProtocolRange(min: "NT1", max: "SMB3_11"))
        #expect(try SMBProtocolRange(setting: "smb1:smb2") == SMBProtocolRange(min: "NT1", max: "SMB2_02"))
        #expect(throws: ConfigIssue.self) { try SMBProtocolRange(setting: "SMB3:NT1") }
        #expect(throws: ConfigIssue.self) { try SMBProtocolRange(setting: "LANMAN1") }
    }

    @Test func encryptionRequiredIsRefusedWhereNothingCanEncrypt() throws {
        var c = SMBConfiguration(url: "smb://xp/logs")
        c.username = "u"
        c.encryption = .required
        try c.validate()
        c.protocols = "NT1"
        #expect(throws: ConfigIssue.self) { try c.validate() }
    }

    @Test func remoteNamesThatAreNotOnePathComponentAreRefused() {
        for bad in ["", ".", "..", "../x", "a/b", "..\\..\\x", "a\u{0}b"] { #expect(!RemoteName.isPlainComponent(bad), "\(bad.debugDescription)") }
        for good in ["log.txt", "...", "a..b", "Pressão ß.txt", ".hidden"] { #expect(RemoteName.isPlainComponent(good), "\(good)") }
    }

    @Test func moveToCannotLeaveTheFolder() async throws {
        let fs = try TestSamba.source(TestSamba.configuration("smb://127.0.0.1:4453/logs")).fileSystem
        let error = await #expect(throws: FileSystemError.self) { try await fs.move("x.csv", intoDirectory: "../elsewhere") }
        #expect(error?.kind == .misconfigured)
    }
}
