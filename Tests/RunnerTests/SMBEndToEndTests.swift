import Foundation
import Testing

/// The SMB source in the daemon, against the `spare` Samba server of scripts/smb-start.sh, which
/// this suite alone stops and starts (the other SMB tests use the nt1 and smb3 servers).
@Suite(.serialized, .enabled(if: SambaScripts.enabled, "no smbd: install samba and run scripts/smb-start.sh (under CI this suite always runs)"))
struct SMBEndToEndTests {
    @Test func serverStoppedMidRunBacksOffRecoversAndOtherPipelinesKeepRunning() throws {
        #expect(try SambaScripts.run("smb-start.sh", "spare") == 0)
        defer { _ = try? SambaScripts.run("smb-stop.sh", "spare") }
        let dir = try Sluice.tempDir("smb-e2e")
        let share = "\(SambaScripts.base)/spare/logs/\(URL(fileURLWithPath: dir).lastPathComponent)"
        try FileManager.default.createDirectory(atPath: share, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir)/local", withIntermediateDirectories: true)
        try "testpw\n".write(toFile: "\(dir)/smb.pw", atomically: true, encoding: .utf8)
        func lines(_ r: ClosedRange<Int>) -> String { r.map { "\($0);v\($0)\n" }.joined() }
        try ("a;b\n" + lines(1...3)).write(toFile: "\(share)/m.csv", atomically: false, encoding: .utf8)
        try ("a;b\n" + lines(1...3)).write(toFile: "\(dir)/local/m.csv", atomically: false, encoding: .utf8)
        for (name, source) in [("remote", """
            type = "smb"
            url = "smb://127.0.0.1:4455/logs/\(URL(fileURLWithPath: dir).lastPathComponent)"
            username = "sluicetest"
            password_file = "\(dir)/smb.pw"
            timeout = "5s"
            """), ("local", """
            type = "files"
            path = "\(dir)/local"
            """)] {
            try Sluice.write("""
                [pipeline]
                name = "\(name)"
                schedule = "every 1s"
                [source]
                \(source)
                glob = "*.csv"
                settle = "0s"
                [[transform]]
                type = "csv"
                delimiter = ";"
                [sink]
                type = "jsonl"
                path = "\(dir)/\(name).jsonl"
                """, to: "\(dir)/conf/\(name).toml")
        }
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        func waitFor(_ name: String, _ n: Int, seconds: Double = 30) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if Sluice.lines("\(dir)/\(name).jsonl").count == n { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return false
        }
        #expect(waitFor("remote", 3) && waitFor("local", 3))

        #expect(try SambaScripts.run("smb-stop.sh", "spare") == 0)
        for path in ["\(share)/m.csv", "\(dir)/local/m.csv"] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try h.seekToEnd()
            try h.write(contentsOf: Data(lines(4...6).utf8))
            try h.close()
        }
        // The other pipeline keeps its schedule while the server is away.
        #expect(waitFor("local", 6))
        Thread.sleep(forTimeInterval: 2.5)
        #expect(Sluice.lines("\(dir)/remote.jsonl").count == 3)

        #expect(try SambaScripts.run("smb-start.sh", "spare") == 0)
        #expect(waitFor("remote", 6, seconds: 40), "the SMB pipeline did not recover")
        kill(p.processIdentifier, SIGTERM)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(e.contains("retrying in") && e.contains("cannot reach 127.0.0.1:4455"), "\(e)")
        #expect(Sluice.lines("\(dir)/remote.jsonl").map { String($0) } == Sluice.lines("\(dir)/local.jsonl").map { String($0) })
    }
}

enum SambaScripts {
    static let base = ProcessInfo.processInfo.environment["SLUICE_SMB_DIR"] ?? "/tmp/sluice-test-smb"
    static let enabled = FileManager.default.isExecutableFile(atPath: "/usr/sbin/smbd") || ProcessInfo.processInfo.environment["CI"] == "true"

    static func run(_ script: String, _ args: String...) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["\(Sluice.root)/scripts/\(script)"] + args
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
