import ConnectorKit
import Foundation
import Synchronization
import Testing
import TestSupport

/// A daemon that runs for years must not grow: 300+ runs of pipelines that fail and succeed in
/// one `sluice run` (PostgreSQL through a proxy that refuses every other second, PostgreSQL that
/// is never there, SFTP connecting and disconnecting each run, JSON lines, the partition job) leave
/// its thread count, open descriptors and resident memory where they were after warming up.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled && ServerScripts.enabled, "needs PostgreSQL and sshd (under CI this suite always runs)"))
struct ResourceTests {
    struct Sample: CustomStringConvertible {
        var threads: Int, descriptors: Int, rssKiB: Int
        var description: String { "\(threads) threads, \(descriptors) descriptors, \(rssKiB / 1024) MiB" }
    }

    /// The least of a few samples 50 ms apart: a connection or thread that exists only in the
    /// middle of a run is not growth.
    static func settledSample(_ pid: Int32) -> Sample {
        var best = sample(pid)
        for _ in 0..<8 {
            Thread.sleep(forTimeInterval: 0.05)
            let s = sample(pid)
            best = Sample(threads: min(best.threads, s.threads), descriptors: min(best.descriptors, s.descriptors), rssKiB: min(best.rssKiB, s.rssKiB))
        }
        return best
    }

    static func sample(_ pid: Int32) -> Sample {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? -1
        return Sample(threads: tasks, descriptors: fds, rssKiB: rss)
    }

    /// Counts the daemon's finished and failed runs from its log, as it writes it.
    final class RunCounter: Sendable {
        private let counts = Locked((ok: 0, failed: 0, tail: ""))
        var ok: Int { counts.withLock { $0.ok } }
        var failed: Int { counts.withLock { $0.failed } }
        var tail: String { counts.withLock { $0.tail } }

        func read(_ pipe: Pipe) {
            Thread.detachNewThread { [self] in
                let h = pipe.fileHandleForReading
                var pending = ""
                while true {
                    let d = h.availableData
                    if d.isEmpty { return }
                    pending += String(decoding: d, as: UTF8.self)
                    while let nl = pending.firstIndex(of: "\n") {
                        let line = pending[..<nl]
                        counts.withLock { c in
                            if line.contains("run finished") { c.ok += 1 }
                            if line.contains("run failed") || line.contains("job failed") { c.failed += 1 }
                            if line.contains("error") || line.contains("warning") { c.tail = String(line.suffix(300)) }
                        }
                        pending = String(pending[pending.index(after: nl)...])
                    }
                }
            }
        }
    }

    static let underAddressSanitizer = (ProcessInfo.processInfo.environment["ASAN_OPTIONS"] ?? "").isEmpty == false

    @Test func threeHundredRunsThatFailAndSucceedLeaveThreadsDescriptorsAndMemoryFlat() throws {
        let dir = try Sluice.tempDir("resources")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let flaky = try FaultProxy(upstreamPort: Int(PG.port)!)
        defer { flaky.stop() }
        let down = try FaultProxy(upstreamPort: Int(PG.port)!)
        down.setRefusing(true)
        defer { down.stop() }
        let remote = "\(ServerScripts.sshBase)/data/res-\(UUID().uuidString.prefix(8).lowercased())"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: remote) }
        try FileManager.default.createDirectory(atPath: "\(dir)/in", withIntermediateDirectories: true)
        let csv = "a;b;day\n" + (1...50).map { "\($0);v\($0);2025-01-0\($0 % 9 + 1)\n" }.joined()
        try csv.write(toFile: "\(dir)/in/m.csv", atomically: true, encoding: .utf8)
        try csv.write(toFile: "\(remote)/m.csv", atomically: true, encoding: .utf8)
        try "testpw\n".write(toFile: "\(dir)/pgpass", atomically: true, encoding: .utf8)
        let table = "res_\(UUID().uuidString.prefix(6).lowercased())"
        defer { _ = try? PG.psql("DROP TABLE IF EXISTS \"\(table)\", \"\(table)_down\" CASCADE; DELETE FROM sluice_checkpoints WHERE pipeline LIKE 'res_%'") }
        let decode = """
            [[transform]]
            type = "csv"
            delimiter = ";"
            [[transform]]
            type = "schema"
            [transform.columns]
            a = "int64"
            b = "string"
            day = "date"
            """
        func pipeline(_ name: String, _ source: String, _ sink: String) throws {
            try Sluice.write("""
                [pipeline]
                name = "\(name)"
                schedule = "every 50ms"
                retry_max_delay = "100ms"
                [source]
                \(source)
                glob = "*.csv"
                settle = "0s"
                \(decode)
                [sink]
                \(sink)
                """, to: "\(dir)/conf/\(name).toml")
        }
        let local = "type = \"files\"\npath = \"\(dir)/in\""
        func pg(_ port: Int, _ t: String) -> String {
            "type = \"postgres\"\nurl = \"\(PG.url(port: String(port)))\"\npassword_file = \"\(dir)/pgpass\"\ntable = \"\(t)\"\nconnect_timeout = \"2s\"\npartition = { column = \"day\", interval = \"day\", premake = 1 }"
        }
        try pipeline("res_jsonl", local, "type = \"jsonl\"\npath = \"\(dir)/out.jsonl\"")
        try pipeline("res_flaky", local, pg(flaky.port, table))
        try pipeline("res_down", local, pg(down.port, table + "_down").replacingOccurrences(of: "\npartition = { column = \"day\", interval = \"day\", premake = 1 }", with: ""))
        try pipeline("res_sftp", """
            type = "sftp"
            url = "sftp://sluicetest@127.0.0.1:2222\(remote)"
            private_key = "\(ServerScripts.sshBase)/client/id_ed25519"
            known_hosts = "\(ServerScripts.sshBase)/client/known_hosts"
            """, "type = \"jsonl\"\npath = \"\(dir)/sftp.jsonl\"")
        try Sluice.write("""
            [pipeline]
            name = "res_job"
            schedule = "every 100ms"
            retry_max_delay = "100ms"
            [job]
            type = "postgres_partitions"
            pipelines = ["res_flaky"]
            """, to: "\(dir)/conf/res_job.toml")

        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state", "--log-level", "debug"])
        let counter = RunCounter()
        counter.read(err)
        let drained = Sluice.collect(out, Pipe())
        defer {
            if p.isAlive { kill(p.processIdentifier, SIGKILL) }
            p.waitForEnd()
            _ = drained
        }
        // The flaky server refuses every other second: its pipeline fails and succeeds in turn.
        let toggler = Thread {
            var refusing = false
            while p.isAlive {
                Thread.sleep(forTimeInterval: 1)
                refusing.toggle()
                flaky.setRefusing(refusing)
                if refusing { flaky.cutAll() }
            }
        }
        toggler.start()
        func runs() -> Int { counter.ok + counter.failed }
        func waitForRuns(_ n: Int, _ seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline && p.isAlive {
                if runs() >= n { return true }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return false
        }
        #expect(waitForRuns(100, 60), "only \(runs()) runs in 60 s: \(counter.tail)")
        let warm = Self.settledSample(p.processIdentifier)
        let warmRuns = runs()
        #expect(waitForRuns(warmRuns + 300, 120), "only \(runs() - warmRuns) more runs in 120 s")
        let end = Self.settledSample(p.processIdentifier)
        let total = runs() - warmRuns
        kill(p.processIdentifier, SIGTERM)
        let stopped = Date().addingTimeInterval(30)
        while p.isAlive && Date() < stopped { Thread.sleep(forTimeInterval: 0.05) }
        print("resources after warm-up (\(warmRuns) runs): \(warm); after \(total) more runs (\(counter.failed) failed in all): \(end)")
        #expect(total >= 300)
        #expect(counter.failed >= 50, "only \(counter.failed) failed runs: the failing paths were not exercised")
        #expect(counter.ok >= 150, "only \(counter.ok) successful runs")
        #expect(end.threads <= warm.threads + 2, "threads grew: \(warm) → \(end)")
        #expect(end.descriptors <= warm.descriptors + 2, "descriptors grew: \(warm) → \(end)")
        // AddressSanitizer keeps freed memory in quarantine (up to 256 MiB), so resident memory
        // says nothing about leaks there; threads and descriptors still do.
        if !Self.underAddressSanitizer {
            #expect(end.rssKiB <= warm.rssKiB + 12 * 1024, "memory grew: \(warm) → \(end)")
        }
        #expect(!p.isAlive && p.endedStatus == 0)
    }
}
