import Foundation

/// `bench daemon`: what `sluice run` costs and how fast it is as a daemon.
///
/// 1. Idle: N pipelines on `every 1m` (local folders, nothing new) — the daemon's CPU over the
///    window as a share of one core (from /proc: utime + stime of it and its children), its RSS.
/// 2. Latency: one pipeline on `watch 1s` into PostgreSQL; lines appended to its file one by
///    one; for each, the time until a query sees its row (a psql session polls every 10 ms).
/// 3. A hall: H SMB1 press servers in one `hosts` pipeline on `watch 1s`; one line appended on
///    each host at the same moment; the time until PostgreSQL holds all of them.
struct DaemonBench {
    var sluice: String
    var pgURL: String
    var password: String
    var idlePipelines = 50
    var idleSeconds = 300.0
    var appends = 200
    var hosts = 40
    let dir = NSTemporaryDirectory() + "sluice-bench-daemon-\(getpid())"

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        print("bench daemon: \(ProcessInfo.processInfo.activeProcessorCount) cores; sluice \(sluice)")
        try idle()
        try latency()
        try hall()
    }

    // MARK: 1. idle

    func idle() throws {
        let conf = "\(dir)/idle/conf", state = "\(dir)/idle/state"
        for i in 1...idlePipelines {
            let folder = "\(dir)/idle/in/m\(i)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try "a;b\n1;2\n".write(toFile: folder + "/log.csv", atomically: false, encoding: .utf8)
            try """
                [pipeline]
                name = "idle-\(i)"
                schedule = "every 1m"
                [source]
                type = "files"
                path = "\(folder)"
                glob = "*.csv"
                settle = "0s"
                [[transform]]
                type = "csv"
                delimiter = ";"
                [sink]
                type = "discard"
                """.write(toFile: "\(conf)/idle-\(i).toml", atomically: false, encoding: .utf8, creatingFolder: true)
        }
        let daemon = try Daemon(sluice: sluice, conf: conf, state: state)
        defer { daemon.stop() }
        // Let the first runs (at start) pass, then measure a quiet window.
        Thread.sleep(forTimeInterval: 5)
        let before = try daemon.cpuSeconds()
        let started = Date()
        Thread.sleep(forTimeInterval: idleSeconds)
        let cpu = try daemon.cpuSeconds() - before
        let elapsed = Date().timeIntervalSince(started)
        let share = cpu / elapsed * 100
        let rss = daemon.rssMiB()
        print(String(format: "idle: %d pipelines on every 1m for %.0f s: daemon CPU %.3f s = %.3f %% of one core (target ≤ 0.5 %%) — %@; RSS %.1f MiB",
                     idlePipelines, elapsed, cpu, share, share <= 0.5 ? "met" : "NOT met", rss))
    }

    // MARK: 2. latency

    func latency() throws {
        let table = "bench_watch_\(getpid())"
        let psql = try PSQLSession(url: pgURL, password: password)
        defer { psql.close() }
        _ = try psql.query("DROP TABLE IF EXISTS \(table); DELETE FROM sluice_checkpoints WHERE pipeline = 'watch-bench'; CREATE TABLE \(table) (seq bigint, written double precision); SELECT 1")
        defer { _ = try? psql.query("DROP TABLE IF EXISTS \(table); DELETE FROM sluice_checkpoints WHERE pipeline = 'watch-bench'; SELECT 1") }
        let folder = "\(dir)/watch/in", conf = "\(dir)/watch/conf", file = folder + "/log.csv"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "seq;written\n".write(toFile: file, atomically: false, encoding: .utf8)
        try "\(password)\n".write(toFile: "\(dir)/watch/pw", atomically: false, encoding: .utf8)
        try """
            [pipeline]
            name = "watch-bench"
            schedule = "watch 1s"
            [source]
            type = "files"
            path = "\(folder)"
            glob = "*.csv"
            settle = "0s"
            [[transform]]
            type = "csv"
            delimiter = ";"
            [[transform]]
            type = "schema"
            [transform.columns]
            seq = "int64"
            written = "float64"
            [sink]
            type = "postgres"
            url = "\(pgURL)"
            password_file = "\(dir)/watch/pw"
            table = "\(table)"
            """.write(toFile: "\(conf)/watch.toml", atomically: false, encoding: .utf8, creatingFolder: true)
        let daemon = try Daemon(sluice: sluice, conf: conf, state: "\(dir)/watch/state")
        defer { daemon.stop() }
        Thread.sleep(forTimeInterval: 2)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        defer { try? handle.close() }
        var latencies: [Double] = []
        // One line at a time, at random moments of the poll cycle; each waits for its row.
        var rng = SystemRandomNumberGenerator()
        for seq in 1...appends {
            Thread.sleep(forTimeInterval: Double.random(in: 0.05...0.6, using: &rng))
            try handle.seekToEnd()
            let written = Date()
            try handle.write(contentsOf: Data("\(seq);\(written.timeIntervalSince1970)\n".utf8))
            let deadline = written.addingTimeInterval(30)
            while true {
                if let max = Int(try psql.query("SELECT coalesce(max(seq), 0) FROM \(table)")), max >= seq { break }
                if Date() > deadline { throw BenchError("row \(seq) did not appear within 30 s") }
                Thread.sleep(forTimeInterval: 0.01)
            }
            latencies.append(Date().timeIntervalSince(written))
        }
        latencies.sort()
        let median = latencies[latencies.count / 2]
        let p99 = latencies[min(latencies.count - 1, Int((Double(latencies.count) * 0.99).rounded(.up)) - 1)]
        print(String(format: "latency (watch 1s, local file → PostgreSQL), %d appends: median %.3f s (target ≤ 1.5 s) — %@; p99 %.3f s (target ≤ 3 s) — %@; min %.3f s, max %.3f s; daemon RSS %.1f MiB",
                     latencies.count, median, median <= 1.5 ? "met" : "NOT met", p99, p99 <= 3 ? "met" : "NOT met", latencies[0], latencies[latencies.count - 1], daemon.rssMiB()))
    }

    // MARK: 3. a hall of SMB hosts

    func hall() throws {
        let variants = (1...hosts).map { "press\($0)" }
        let start = Process()
        start.executableURL = URL(fileURLWithPath: "/bin/bash")
        start.arguments = ["scripts/smb-start.sh"] + variants
        start.standardOutput = FileHandle.nullDevice
        let began = Date()
        try start.run()
        start.waitUntilExit()
        guard start.terminationStatus == 0 else { throw BenchError("scripts/smb-start.sh \(variants.joined(separator: " ")) failed") }
        print(String(format: "hall: %d SMB1 press servers up in %.1f s", hosts, Date().timeIntervalSince(began)))
        let base = ProcessInfo.processInfo.environment["SLUICE_SMB_DIR"] ?? "/tmp/sluice-test-smb"
        let sub = "bench-\(getpid())"
        for i in 1...hosts {
            let folder = "\(base)/press\(i)/logs/\(sub)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
            try ("seq;value\n" + (1...10).map { "\($0);\(i)\n" }.joined()).write(toFile: folder + "/log.csv", atomically: false, encoding: .utf8)
        }
        defer { for i in 1...hosts { try? FileManager.default.removeItem(atPath: "\(base)/press\(i)/logs/\(sub)") } }
        let table = "bench_hall_\(getpid())"
        let psql = try PSQLSession(url: pgURL, password: password)
        defer { psql.close() }
        _ = try psql.query("DROP TABLE IF EXISTS \(table); DELETE FROM sluice_checkpoints WHERE pipeline LIKE 'hall-bench@%'; SELECT 1")
        defer { _ = try? psql.query("DROP TABLE IF EXISTS \(table); DELETE FROM sluice_checkpoints WHERE pipeline LIKE 'hall-bench@%'; SELECT 1") }
        try "testpw\n".write(toFile: "\(dir)/smb.pw", atomically: false, encoding: .utf8)
        try "\(password)\n".write(toFile: "\(dir)/pg.pw", atomically: false, encoding: .utf8)
        let hostTable = (1...hosts).map { String(format: "press-%02d = \"127.0.0.1:%d\"", $0, 4460 + $0) }.joined(separator: ", ")
        let conf = "\(dir)/hall/conf"
        try """
            [pipeline]
            name = "hall-bench"
            schedule = "watch 1s"
            [source]
            type = "smb"
            url = "smb://{host}/logs/\(sub)"
            hosts = { \(hostTable) }
            protocols = "NT1"
            username = "sluicetest"
            password_file = "\(dir)/smb.pw"
            glob = "*.csv"
            settle = "0s"
            timeout = "10s"
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
            type = "postgres"
            url = "\(pgURL)"
            password_file = "\(dir)/pg.pw"
            table = "\(table)"
            """.write(toFile: "\(conf)/hall.toml", atomically: false, encoding: .utf8, creatingFolder: true)
        let daemon = try Daemon(sluice: sluice, conf: conf, state: "\(dir)/hall/state")
        defer { daemon.stop() }
        func loaded() throws -> Int { Int(try psql.query("SELECT count(*) FROM \(table)")) ?? 0 }
        let first = Date()
        while (try? loaded()) != hosts * 10 {
            if Date().timeIntervalSince(first) > 120 { throw BenchError("the first load of the hall did not finish in 120 s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        let firstLoad = Date().timeIntervalSince(first)
        Thread.sleep(forTimeInterval: 2)
        let appended = Date()
        for i in 1...hosts {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(base)/press\(i)/logs/\(sub)/log.csv"))
            try h.seekToEnd()
            try h.write(contentsOf: Data("11;\(i)\n".utf8))
            try h.close()
        }
        while try loaded() != hosts * 11 {
            if Date().timeIntervalSince(appended) > 120 { throw BenchError("the appends were not all loaded in 120 s") }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let all = Date().timeIntervalSince(appended)
        let helpers = daemon.childrenRSSMiB()
        print(String(format: "hall: %d hosts in one SMB pipeline (watch 1s): first load of all %.2f s; one line appended on each host: all %d rows in PostgreSQL after %.2f s; daemon RSS %.1f MiB (PSS %.1f), its %d SMB helper processes RSS %.1f MiB in all (PSS %.1f: the binary's pages are shared)",
                     hosts, firstLoad, hosts, all, daemon.rssMiB(), daemon.pssMiB(daemon.process.processIdentifier), helpers.count, helpers.mib, helpers.pss))
    }
}

/// `sluice run` on a folder, measured from /proc.
final class Daemon {
    let process = Process()

    init(sluice: String, conf: String, state: String) throws {
        process.executableURL = URL(fileURLWithPath: sluice)
        process.arguments = ["run", "--config-dir", conf, "--state-dir", state, "--listen", "off", "--log-level", "warning"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
    }

    /// User + system CPU of the daemon and of its children that ended (SMB helpers).
    func cpuSeconds() throws -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            throw BenchError("the daemon is not running")
        }
        let f = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var total = (Double(f[11]) ?? 0) + (Double(f[12]) ?? 0) + (Double(f[13]) ?? 0) + (Double(f[14]) ?? 0)
        for child in children() {
            if let s = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8), let c = s.lastIndex(of: ")") {
                let g = s[s.index(after: c)...].split(separator: " ")
                total += (Double(g[11]) ?? 0) + (Double(g[12]) ?? 0)
            }
        }
        return total / ticks
    }

    func rssMiB(_ pid: Int32? = nil) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid ?? process.processIdentifier)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    func children() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let f = stat[stat.index(after: close)...].split(separator: " ")
            return f.count > 1 && Int32(f[1]) == process.processIdentifier ? pid : nil
        }
    }

    /// Proportional set size: shared pages (the binary's text, mapped by every helper) counted
    /// once across the processes that share them.
    func pssMiB(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Pss:") }) else { return 0 }
        return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    func childrenRSSMiB() -> (count: Int, mib: Double, pss: Double) {
        let kids = children()
        return (kids.count, kids.reduce(0) { $0 + rssMiB($1) }, kids.reduce(0) { $0 + pssMiB($1) })
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}

/// One psql session kept open: a query is a line in, a line out (no process per poll).
final class PSQLSession {
    let process = Process()
    let input = Pipe(), output = Pipe()
    private var buffer: [UInt8] = []

    init(url: String, password: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        process.arguments = [url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=0"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { $1 }
        process.standardInput = input
        process.standardOutput = output
        // Errors (a table not made yet while polling) read as no row; the caller waits on.
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first line of the last statement's result.
    func query(_ sql: String) throws -> String {
        let marker = "--end-\(UInt32.random(in: 0...UInt32.max))"
        try input.fileHandleForWriting.write(contentsOf: Data("\(sql);\n\\echo \(marker)\n".utf8))
        var lines: [String] = []
        while true {
            if let nl = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                if line == marker { break }
                if !line.isEmpty { lines.append(line) }
                continue
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchError("psql ended") }
            buffer.append(contentsOf: chunk)
        }
        return lines.last ?? ""
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

extension String {
    func write(toFile path: String, atomically: Bool, encoding: String.Encoding, creatingFolder: Bool) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try write(toFile: path, atomically: atomically, encoding: encoding)
    }
}
