import Foundation
import Testing
import TestSupport

/// A hall of XP press PCs in one pipeline file (`hosts`), each press its own NT1 Samba server.
/// One press hangs (every smbd of its server SIGSTOPped, as an XP PC that stops answering): the
/// others keep loading on their schedule, the hung one is reported failing, and it catches up
/// exactly once when it answers again.
@Suite(.blockingWork, .serialized, .enabled(if: ServerScripts.enabled, "no smbd: install samba (under CI this suite always runs)"))
struct MultiHostTests {
    static let presses = ["press1", "press2", "press3"]

    static func smbdProcesses(_ variant: String) -> [pid_t] {
        let conf = "--configfile=\(ServerScripts.smbBase)/\(variant)/smb.conf"
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let cmd = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return String(decoding: cmd, as: UTF8.self).replacingOccurrences(of: "\0", with: " ").contains(conf) ? pid : nil
        }
    }

    static func children(of parent: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }

    @Test func oneHungPressNeverDelaysTheOthers() throws {
        for v in Self.presses { #expect(try ServerScripts.run("smb-start.sh", v) == 0) }
        defer { for v in Self.presses { for pid in Self.smbdProcesses(v) { kill(pid, SIGCONT) } } }
        let dir = try Sluice.tempDir("hall")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sub = URL(fileURLWithPath: dir).lastPathComponent
        func logFile(_ i: Int) -> String { "\(ServerScripts.smbBase)/press\(i)/logs/\(sub)/prensa.csv" }
        func rows(_ i: Int, _ r: ClosedRange<Int>) -> String { r.map { "\(i);\($0);\($0 * 10)\n" }.joined() }
        for i in 1...3 {
            try FileManager.default.createDirectory(atPath: "\(ServerScripts.smbBase)/press\(i)/logs/\(sub)", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o777])
            try ("press;seq;value\n" + rows(i, 1...3)).write(toFile: logFile(i), atomically: false, encoding: .utf8)
        }
        defer { for i in 1...3 { try? FileManager.default.removeItem(atPath: "\(ServerScripts.smbBase)/press\(i)/logs/\(sub)") } }
        func append(_ i: Int, _ r: ClosedRange<Int>) throws {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: logFile(i)))
            try h.seekToEnd()
            try h.write(contentsOf: Data(rows(i, r).utf8))
            try h.close()
        }
        try "testpw\n".write(toFile: "\(dir)/smb.pw", atomically: true, encoding: .utf8)
        try Sluice.write("""
            [pipeline]
            name = "hall"
            schedule = "every 1s"
            retry_max_delay = "2s"
            [source]
            type = "smb"
            url = "smb://{host}/logs/\(sub)"
            hosts = { press-01 = "127.0.0.1:4461", press-02 = "127.0.0.1:4462", press-03 = "127.0.0.1:4463" }
            protocols = "NT1"
            username = "sluicetest"
            password_file = "\(dir)/smb.pw"
            glob = "*.csv"
            settle = "0s"
            timeout = "3s"
            [[transform]]
            type = "csv"
            delimiter = ";"
            [[transform]]
            type = "schema"
            [transform.columns]
            seq = "int64"
            value = "int64"
            [transform.derive]
            host = "host"
            [sink]
            type = "jsonl"
            path = "\(dir)/out/{host}.jsonl"
            """, to: "\(dir)/conf/hall.toml")
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        let base = try HTTP.daemonAddress(stateDirectory: "\(dir)/state", process: p, output: collected)
        func count(_ i: Int) -> Int { Sluice.lines("\(dir)/out/press-0\(i).jsonl").count }
        try DaemonHTTPTests.waitUntil(30, "every press loaded") { (1...3).allSatisfy { count($0) == 3 } }
        let first = Sluice.lines("\(dir)/out/press-02.jsonl").first.map(String.init) ?? ""
        #expect(first.contains("\"host\":\"press-02\""), "the host column: \(first)")
        let helpers = Self.children(of: p.processIdentifier)
        #expect(helpers.count == 3, "one SMB helper process per press: \(helpers)")

        // press-02 hangs.
        let stopped = Self.smbdProcesses("press2")
        #expect(!stopped.isEmpty)
        for pid in stopped { kill(pid, SIGSTOP) }
        defer { for pid in stopped { kill(pid, SIGCONT) } }
        // Twice while it hangs (the second after its requests have timed out and it is failing),
        // the other presses' appends load within their 1 s schedule.
        for (round, range) in [(1, 4...6), (2, 7...9)] {
            if round == 2 {
                try DaemonHTTPTests.waitUntil(40, "press-02 reported failing") {
                    let (_, v) = try HTTP.json(base + "/api/pipelines/hall@press-02/runs")
                    return ((v as? [String: Any])?["runs"] as? [[String: Any]])?.first?["succeeded"] as? Bool == false
                }
            }
            for i in 1...3 { try append(i, range) }
            let started = Date()
            try DaemonHTTPTests.waitUntil(15, "press-01 and press-03 loading while press-02 hangs (round \(round))") {
                count(1) == range.upperBound && count(3) == range.upperBound
            }
            let seconds = Date().timeIntervalSince(started)
            #expect(seconds < 5, "round \(round): the healthy presses took \(seconds) s")
            #expect(count(2) == 3)
        }
        let ready = try HTTP.json(base + "/ready")
        #expect(ready.status == 503)
        #expect("\(ready.value)".contains("hall@press-02"), "\(ready.value)")
        let metrics = try HTTP.get(base + "/metrics").body
        #expect(metrics.contains("sluice_records_written_total{pipeline=\"hall\",host=\"press-01\"} 9"), "\(metrics.prefix(2000))")

        // It answers again: its rows arrive, once.
        for pid in stopped { kill(pid, SIGCONT) }
        try DaemonHTTPTests.waitUntil(60, "press-02 catching up") { count(2) == 9 }
        try DaemonHTTPTests.waitUntil(20, "/ready 200 again") { try HTTP.get(base + "/ready").status == 200 }
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 60)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        for i in 1...3 {
            let seqs = Sluice.lines("\(dir)/out/press-0\(i).jsonl").compactMap { line -> Int? in
                guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
                return o["seq"] as? Int
            }
            #expect(seqs == Array(1...9), "press-0\(i): \(seqs)")
        }
        // A helper ends with the daemon (a zombie waiting for its new parent to reap it counts as ended).
        func alive(_ pid: pid_t) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            return !stat[stat.index(after: close)...].hasPrefix(" Z")
        }
        let deadline = Date().addingTimeInterval(5)
        while helpers.contains(where: alive) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!helpers.contains(where: alive), "SMB helpers outlived the daemon: \(helpers.filter(alive))")
    }
}

/// Several hosts of one pipeline load one new day-partitioned PostgreSQL table at the same time:
/// they race to create the table and its partitions, and none of their runs fails for it.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct MultiHostPostgresTests {
    @Test func hostsRacingToCreateTheTableAndPartitionsAllSucceed() throws {
        let dir = try Sluice.tempDir("hall-pg")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let table = "hall_\(UUID().uuidString.prefix(6).lowercased())"
        let hosts = (1...6).map { String(format: "m%02d", $0) }
        defer { _ = try? PG.psql("DROP TABLE IF EXISTS \"\(table)\" CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline LIKE 'hallpg@%'") }
        for (i, h) in hosts.enumerated() {
            try FileManager.default.createDirectory(atPath: "\(dir)/in/\(h)", withIntermediateDirectories: true)
            // Every host's rows span the same 30 days: each needs the same partitions.
            let rows = (0..<600).map { r in "\(r);2025-03-\(String(format: "%02d", r % 28 + 1))T\(String(format: "%02d", i)):00:00Z\n" }.joined()
            try ("seq;ts\n" + rows).write(toFile: "\(dir)/in/\(h)/log.csv", atomically: false, encoding: .utf8)
        }
        try "testpw\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        try Sluice.write("""
            [pipeline]
            name = "hallpg"
            [source]
            type = "files"
            path = "\(dir)/in/{host}"
            hosts = [\(hosts.map { "\"\($0)\"" }.joined(separator: ", "))]
            glob = "*.csv"
            settle = "0s"
            [[transform]]
            type = "csv"
            delimiter = ";"
            [[transform]]
            type = "schema"
            [transform.columns]
            seq = "int64"
            ts = { type = "timestamp", nullable = false }
            [transform.derive]
            host = "host"
            [sink]
            type = "postgres"
            url = "\(PG.url)"
            password_file = "\(dir)/pgpass"
            table = "\(table)"
            partition = { column = "ts", interval = "day", premake = 3 }
            """, to: "\(dir)/conf/hallpg.toml")
        let r = try Sluice.run(["once", "hallpg", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--no-progress", "--attempts", "1"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(!r.stderr.contains("already exists"), "\(r.stderr)")
        let counts = try PG.psql("SELECT string_agg(host || '=' || n, ',' ORDER BY host) FROM (SELECT host, count(*) n FROM \"\(table)\" GROUP BY host) t")
        #expect(counts == hosts.map { "\($0)=600" }.joined(separator: ","))
        let partitions = try PG.psql("SELECT count(*) FROM pg_inherits WHERE inhparent = '\"\(table)\"'::regclass")
        #expect((Int(partitions) ?? 0) >= 28)
    }
}

/// The same for SFTP: two Linux hosts in one file, one of them behind a proxy that stalls (a host
/// that hangs mid-connection); the other keeps loading on its schedule, the hung one catches up.
@Suite(.blockingWork, .serialized, .enabled(if: ServerScripts.enabled, "no sshd: install openssh-server (under CI this suite always runs)"))
struct MultiHostSFTPTests {
    @Test func oneStalledLinuxHostNeverDelaysTheOther() throws {
        #expect(try ServerScripts.run("ssh-start.sh", "main") == 0)
        let proxy = try FaultProxy(upstreamPort: 2222)
        defer { proxy.stop() }
        let dir = try Sluice.tempDir("sftp-hall")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sub = URL(fileURLWithPath: dir).lastPathComponent
        let remote = "\(ServerScripts.sshBase)/data/\(sub)"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: remote) }
        func rows(_ r: ClosedRange<Int>) -> String { r.map { "\($0);v\($0)\n" }.joined() }
        try ("seq;value\n" + rows(1...3)).write(toFile: "\(remote)/m.csv", atomically: false, encoding: .utf8)
        // The proxy's address needs the server's key in known_hosts like any other host.
        let known = try String(contentsOfFile: "\(ServerScripts.sshBase)/client/known_hosts", encoding: .utf8)
        let key = try #require(known.split(separator: "\n").first { $0.hasPrefix("[127.0.0.1]:2222 ") }).dropFirst("[127.0.0.1]:2222 ".count)
        try (known + "[127.0.0.1]:\(proxy.port) \(key)\n").write(toFile: "\(dir)/known_hosts", atomically: false, encoding: .utf8)
        try Sluice.write("""
            [pipeline]
            name = "lines"
            schedule = "every 1s"
            retry_max_delay = "2s"
            [source]
            type = "sftp"
            url = "sftp://sluicetest@{host}\(remote)"
            hosts = { line-a = "127.0.0.1:2222", line-b = "127.0.0.1:\(proxy.port)" }
            private_key = "\(ServerScripts.sshBase)/client/id_ed25519"
            known_hosts = "\(dir)/known_hosts"
            connect_timeout = "10s"
            read_timeout = "10s"
            glob = "*.csv"
            settle = "0s"
            [[transform]]
            type = "csv"
            delimiter = ";"
            [sink]
            type = "jsonl"
            path = "\(dir)/out/{host}.jsonl"
            """, to: "\(dir)/conf/lines.toml")
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        defer { if p.isAlive { kill(p.processIdentifier, SIGKILL) } }
        func count(_ host: String) -> Int { Sluice.lines("\(dir)/out/\(host).jsonl").count }
        try DaemonHTTPTests.waitUntil(30, "both hosts loaded") { count("line-a") == 3 && count("line-b") == 3 }

        proxy.setMode(.stall)
        // line-b's next run starts within a second and hangs (up to read_timeout, 10 s).
        Thread.sleep(forTimeInterval: 2)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(remote)/m.csv"))
        try h.seekToEnd()
        try h.write(contentsOf: Data(rows(4...6).utf8))
        try h.close()
        let started = Date()
        try DaemonHTTPTests.waitUntil(15, "line-a loading while line-b hangs") { count("line-a") == 6 }
        #expect(Date().timeIntervalSince(started) < 4, "the healthy host waited \(Date().timeIntervalSince(started)) s")
        #expect(count("line-b") == 3)

        proxy.setMode(.pass)
        proxy.cutAll()
        try DaemonHTTPTests.waitUntil(60, "line-b catching up") { count("line-b") == 6 }
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 60)
        #expect(result.status == 0, "\(result.stderr.suffix(1500))")
        #expect(Sluice.lines("\(dir)/out/line-a.jsonl") == Sluice.lines("\(dir)/out/line-b.jsonl"))
    }
}
