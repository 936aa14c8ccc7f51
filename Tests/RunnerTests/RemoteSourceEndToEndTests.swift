import ConnectorKit
import Foundation
import Testing
import TestSupport

/// The SMB and SFTP sources in the daemon, against servers this suite alone stops and starts (the
/// `spare` Samba and sshd of scripts/smb-start.sh and ssh-start.sh; other tests use the others).
@Suite(.blockingWork, .serialized, .enabled(if: ServerScripts.enabled, "no smbd/sshd: install samba and openssh-server (under CI this suite always runs)"))
struct RemoteSourceEndToEndTests {
    @Test func smbServerStoppedMidRunBacksOffRecoversAndOtherPipelinesKeepRunning() throws {
        try serverStoppedMidRun(start: ("smb-start.sh", "spare"), stop: ("smb-stop.sh", "spare"),
                                remoteFolder: "\(ServerScripts.smbBase)/spare/logs", unreachable: "cannot reach 127.0.0.1:4455") { dir, sub in """
            type = "smb"
            url = "smb://127.0.0.1:4455/logs/\(sub)"
            username = "sluicetest"
            password_file = "\(dir)/smb.pw"
            timeout = "5s"
            """ }
    }

    @Test func sftpServerStoppedMidRunBacksOffRecoversAndOtherPipelinesKeepRunning() throws {
        try serverStoppedMidRun(start: ("ssh-start.sh", "spare"), stop: ("ssh-stop.sh", "spare"),
                                remoteFolder: "\(ServerScripts.sshBase)/data", unreachable: "cannot reach 127.0.0.1:2224") { _, sub in """
            type = "sftp"
            url = "sftp://sluicetest@127.0.0.1:2224\(ServerScripts.sshBase)/data/\(sub)"
            private_key = "\(ServerScripts.sshBase)/client/id_ed25519"
            known_hosts = "\(ServerScripts.sshBase)/client/known_hosts"
            connect_timeout = "5s"
            """ }
    }

    /// Megabytes from one share in-process, and through SMB helpers and their read-ahead: `sluice
    /// cat` prints the file's exact bytes; `sluice once` of one pipeline (one share: no helper) and
    /// of a pipeline with two hosts (a helper each) load every row exactly once and then only the
    /// rows appended; each helper ends with its input (logged off, exit status 0), not by a kill.
    @Test func largeFilesArePulledExactlyInProcessAndThroughHelpers() throws {
        let (dir, sub, remote) = try smb3Folder("smb-pull")
        defer { try? FileManager.default.removeItem(atPath: remote) }
        func rows(_ r: Range<Int>) -> String { r.map { "\($0);press-\($0 % 7);\(String(repeating: "x", count: $0 % 90))\n" }.joined() }
        var text = "seq;machine;note\n" + rows(0..<110_000)
        try text.write(toFile: "\(remote)/big.csv", atomically: false, encoding: .utf8)
        #expect(text.utf8.count > 5 << 20)
        try writeSMB3Pipeline(dir: dir, sub: sub, sourceExtra: "settle = \"0s\"", sink: "type = \"jsonl\"\npath = \"\(dir)/out.jsonl\"")
        // The same share twice, as two hosts of one pipeline: two shares for the process.
        try writeSMB3Pipeline(dir: dir, sub: sub, name: "pair", host: "{host}",
                              sourceExtra: "hosts = { left = \"127.0.0.1:4453\", right = \"127.0.0.1:4453\" }\nsettle = \"0s\"",
                              sink: "type = \"jsonl\"\npath = \"\(dir)/pair/{host}.jsonl\"")
        let args = ["--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--log-level", "debug"]
        func helpersEnded(_ log: String) -> Int { log.split(separator: "\n").filter { $0.contains("SMB helper ended") && $0.contains("status=0") && $0.contains("reason=exit") }.count }
        func written(_ out: String, _ n: Int) -> Int { out.components(separatedBy: ": \(n) records written").count - 1 }

        let cat = try Sluice.run(["cat", "press", "big.csv"] + args)
        #expect(cat.status == 0, "\(cat.stderr.suffix(2000))")
        let same = cat.stdout == text  // one Bool: a failed #expect on megabyte strings would diff them
        #expect(same, "sluice cat printed \(cat.stdout.utf8.count) bytes, the file has \(text.utf8.count)")
        #expect(!cat.stderr.contains("SMB helper started"), "one share is read in-process: \(cat.stderr.suffix(2000))")

        let first = try Sluice.run(["once", "press", "--no-progress"] + args)
        #expect(first.status == 0 && written(first.stdout, 110_000) == 1, "\(first.stdout) \(first.stderr.suffix(2000))")
        #expect(!first.stderr.contains("SMB helper started"), "\(first.stderr.suffix(2000))")
        let pairFirst = try Sluice.run(["once", "pair", "--no-progress"] + args)
        #expect(pairFirst.status == 0 && written(pairFirst.stdout, 110_000) == 2, "\(pairFirst.stdout) \(pairFirst.stderr.suffix(2000))")
        #expect(helpersEnded(pairFirst.stderr) == 2, "a helper per host, each ended with its input: \(pairFirst.stderr.suffix(2000))")

        let added = rows(110_000..<130_000)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(remote)/big.csv"))
        try h.seekToEnd()
        try h.write(contentsOf: Data(added.utf8))
        try h.close()
        text += added
        let second = try Sluice.run(["once", "press", "--no-progress"] + args)
        #expect(second.status == 0 && written(second.stdout, 20_000) == 1, "\(second.stdout) \(second.stderr.suffix(2000))")
        let pairSecond = try Sluice.run(["once", "pair", "--no-progress"] + args)
        #expect(pairSecond.status == 0 && written(pairSecond.stdout, 20_000) == 2, "\(pairSecond.stdout) \(pairSecond.stderr.suffix(2000))")
        #expect(helpersEnded(pairSecond.stderr) == 2, "\(pairSecond.stderr.suffix(2000))")
        for output in ["out.jsonl", "pair/left.jsonl", "pair/right.jsonl"] {
            let seqs = Sluice.lines("\(dir)/\(output)").compactMap { line -> Int? in
                guard let data = line.data(using: .utf8), let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
                return (o["seq"] as? String).flatMap(Int.init)
            }
            let exactlyOnce = seqs == Array(0..<130_000)
            #expect(exactlyOnce, "\(output): \(seqs.count) rows loaded, \(Set(seqs).count) distinct; first gap at \(zip(seqs, 0...).first { $0 != $1 }.map { "\($0)" } ?? "none")")
        }
    }

    /// `sluice cat` of a file large enough for the SMB source's second connection (a forked child
    /// reading every other block, `SMBSecondReads`) prints its exact bytes, and the child read
    /// some of them and ended with the run.
    @Test func aLargeSMBFileIsPulledExactlyOverTwoConnections() throws {
        let (dir, sub, remote) = try smb3Folder("smb-second")
        defer { try? FileManager.default.removeItem(atPath: remote) }
        let text = "seq;machine;note\n" + (0..<240_000).map { "\($0);press-\($0 % 7);\(String(repeating: "y", count: $0 % 80))\n" }.joined()
        #expect(text.utf8.count > 12 << 20)
        try text.write(toFile: "\(remote)/large.csv", atomically: false, encoding: .utf8)
        try writeSMB3Pipeline(dir: dir, sub: sub, sourceExtra: "settle = \"0s\"", sink: "type = \"discard\"")
        let cat = try Sluice.run(["cat", "press", "large.csv", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--log-level", "debug"])
        #expect(cat.status == 0, "\(cat.stderr.suffix(2000))")
        let same = cat.stdout == text  // one Bool: a failed #expect on megabyte strings would diff them
        #expect(same, "sluice cat printed \(cat.stdout.utf8.count) bytes, the file has \(text.utf8.count)")
        let ended = cat.stderr.split(separator: "\n").first { $0.contains("a second connection to the share ended") }
        #expect(ended != nil && !(ended!.contains("bytes=0 ")), "\(cat.stderr.suffix(2000))")
        #expect(!cat.stderr.contains("a second connection to the share stopped"), "\(cat.stderr.suffix(2000))")
    }

    /// libsmbclient is loaded when an SMB source first connects, not at program start: the
    /// binary does not link it (its ~100 Samba libraries cost every command ~25 ms of start-up),
    /// SMB works through it, and a machine without it gets one clear error, not a crash.
    @Test func libsmbclientIsLoadedOnFirstUseAndItsAbsenceIsAClearError() throws {
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [Sluice.binary]
        let out = ProcessLaunch.pipe()
        ldd.standardOutput = out
        try ProcessLaunch.run(ldd)
        let linked = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitForEnd()
        #expect(linked.contains("libpq") && !linked.contains("libsmbclient") && !linked.contains("samba"), "\(linked)")

        let (dir, sub, remote) = try smb3Folder("smb-dlopen")
        defer { try? FileManager.default.removeItem(atPath: remote) }
        let text = "seq;note\n1;one\n2;two\n"
        try text.write(toFile: "\(remote)/a.csv", atomically: false, encoding: .utf8)
        try writeSMB3Pipeline(dir: dir, sub: sub, sink: "type = \"discard\"")
        let args = ["cat", "press", "a.csv", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"]
        let loaded = try Sluice.run(args)
        #expect(loaded.status == 0 && loaded.stdout == text, "\(loaded.stdout) \(loaded.stderr.suffix(2000))")

        let missing = try Sluice.run(args, environment: ["SLUICE_LIBSMBCLIENT": "/nonexistent/libsmbclient.so.0"])
        #expect(missing.status == 1, "status \(missing.status): \(missing.stderr.suffix(2000))")
        #expect(missing.stderr.contains("cannot load libsmbclient (apt-get install libsmbclient)") && missing.stderr.contains("/nonexistent/libsmbclient.so.0"),
                "\(missing.stderr.suffix(2000))")
        #expect(missing.stdout.isEmpty)
    }

    /// Starts the SMB3 server and makes a folder of the share for one test: a local temporary
    /// folder (holding the password file `smb.pw`), its name, and the folder on the share's disk.
    /// `conf/<name>.toml`: CSV files from the `smb3` share's folder `sub` (`host`: the server,
    /// or `{host}` with `hosts` in `sourceExtra`) into `sink`.
    func writeSMB3Pipeline(dir: String, sub: String, name: String = "press", host: String = "127.0.0.1:4453", sourceExtra: String = "",
                           sink: String) throws {
        try Sluice.write("""
            [source]
            type = "smb"
            url = "smb://\(host)/logs/\(sub)"
            username = "sluicetest"
            password_file = "\(dir)/smb.pw"
            glob = "*.csv"
            \(sourceExtra)
            [[transform]]
            type = "csv"
            delimiter = ";"
            [sink]
            \(sink)
            """, to: "\(dir)/conf/\(name).toml")
    }

    func smb3Folder(_ name: String) throws -> (dir: String, sub: String, remote: String) {
        #expect(try ServerScripts.run("smb-start.sh", "smb3") == 0)
        let dir = try Sluice.tempDir(name)
        let sub = URL(fileURLWithPath: dir).lastPathComponent
        let remote = "\(ServerScripts.smbBase)/smb3/logs/\(sub)"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        try "testpw\n".write(toFile: "\(dir)/smb.pw", atomically: true, encoding: .utf8)
        return (dir, sub, remote)
    }

    /// Two pipelines in one daemon, a remote one and a local one, every 1 s. The remote server
    /// stops; the local pipeline keeps loading; the remote one backs off, and catches up exactly
    /// once the server is back.
    func serverStoppedMidRun(start: (String, String), stop: (String, String), remoteFolder: String, unreachable: String,
                             source: (_ dir: String, _ subfolder: String) -> String) throws {
        #expect(try ServerScripts.run(start.0, start.1) == 0)
        defer { _ = try? ServerScripts.run(stop.0, stop.1) }
        let dir = try Sluice.tempDir("remote-e2e")
        let sub = URL(fileURLWithPath: dir).lastPathComponent
        let remote = "\(remoteFolder)/\(sub)"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        try FileManager.default.createDirectory(atPath: "\(dir)/local", withIntermediateDirectories: true)
        try "testpw\n".write(toFile: "\(dir)/smb.pw", atomically: true, encoding: .utf8)
        func lines(_ r: ClosedRange<Int>) -> String { r.map { "\($0);v\($0)\n" }.joined() }
        try ("a;b\n" + lines(1...3)).write(toFile: "\(remote)/m.csv", atomically: false, encoding: .utf8)
        try ("a;b\n" + lines(1...3)).write(toFile: "\(dir)/local/m.csv", atomically: false, encoding: .utf8)
        for (name, table) in [("remote", source(dir, sub)), ("local", "type = \"files\"\npath = \"\(dir)/local\"")] {
            try Sluice.write("""
                [pipeline]
                name = "\(name)"
                schedule = "every 1s"
                [source]
                \(table)
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

        #expect(try ServerScripts.run(stop.0, stop.1) == 0)
        for path in ["\(remote)/m.csv", "\(dir)/local/m.csv"] {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try h.seekToEnd()
            try h.write(contentsOf: Data(lines(4...6).utf8))
            try h.close()
        }
        #expect(waitFor("local", 6))
        Thread.sleep(forTimeInterval: 2.5)
        #expect(Sluice.lines("\(dir)/remote.jsonl").count == 3)

        #expect(try ServerScripts.run(start.0, start.1) == 0)
        #expect(waitFor("remote", 6, seconds: 40), "the remote pipeline did not recover")
        kill(p.processIdentifier, SIGTERM)
        _ = out.fileHandleForReading.readDataToEndOfFile()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let status = p.waitForEnd()
        #expect(status == 0)
        #expect(e.contains("retrying in") && e.contains(unreachable), "\(e)")
        #expect(Sluice.lines("\(dir)/remote.jsonl").map { String($0) } == Sluice.lines("\(dir)/local.jsonl").map { String($0) })
    }
}

enum ServerScripts {
    static let smbBase = ProcessInfo.processInfo.environment["SLUICE_SMB_DIR"] ?? "/tmp/sluice-test-smb"
    static let sshBase = ProcessInfo.processInfo.environment["SLUICE_SSH_DIR"] ?? "/tmp/sluice-test-ssh"
    static let enabled = (FileManager.default.isExecutableFile(atPath: "/usr/sbin/smbd") && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd"))
        || ProcessInfo.processInfo.environment["CI"] == "true"

    static func run(_ script: String, _ args: String...) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["\(Sluice.root)/scripts/\(script)"] + args
        p.standardOutput = FileHandle.nullDevice
        try ProcessLaunch.run(p)
        return p.waitForEnd()
    }
}
