import Foundation

/// `bench smb` (and `bench sftp`): a full pull of one large file by `sluice cat` to /dev/null (a
/// process: start-up, connection, login, listing, pull) against the reference client getting the
/// same file to /dev/null, also as a process, in alternating rounds; then a 1 MiB append to that
/// file and the bytes that travel for `sluice once` to load it. Bytes on the wire are
/// the loopback interface's counters (both directions, protocol and TCP headers included), so
/// only run it on an otherwise idle machine.
struct RemotePullBenchmark {
    var name: String
    var sluice: String
    /// The file's folder on the server's disk.
    var localFolder: String
    /// Pairs compared like with like (e.g. both encrypted): the `[source]` lines of Sluice's
    /// pipeline, and the reference client, which must write the file to /dev/null.
    var comparisons: [Comparison]

    struct Comparison {
        var label: String
        var source: String
        var reference: (label: String, path: String, args: [String])
    }
    var sizeMiB: Int
    var runs = 3

    let file = "big.csv"
    let work = NSTemporaryDirectory() + "sluice-bench-pull-\(UUID().uuidString.prefix(8))"

    /// A pipeline reading `file` through `source` into the discard sink; returns its folder.
    func pipeline(_ name: String, source: String) throws -> String {
        let conf = "\(work)/\(name)"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try """
            [pipeline]
            name = "\(name)"
            [source]
            \(source)
            glob = "\(file)"
            settle = "0s"
            [[transform]]
            type = "csv"
            [sink]
            type = "discard"
            """.write(toFile: "\(conf)/\(name).toml", atomically: true, encoding: .utf8)
        return conf
    }

    func once(_ name: String, conf: String, freshState: Bool) throws -> ChildRun {
        if freshState { try? FileManager.default.removeItem(atPath: "\(work)/state-\(name)") }
        let r = try spawnMeasured(sluice, ["once", name, "--config-dir", conf, "--state-dir", "\(work)/state-\(name)", "--no-progress"])
        guard r.status == 0 else { throw BenchError("sluice once \(name): exit \(r.status): \(r.stderr.suffix(600))") }
        return r
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let path = "\(localFolder)/\(file)"
        try makeFile(path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bytes = Double(sizeMiB) * 1_048_576
        let date = ISO8601DateFormatter().string(from: Date())
        print("### bench \(name) — \(date)\n")
        print("`swift run -c release bench \(name) --size-mib \(sizeMiB)`: a \(sizeMiB) MiB CSV file on the server on 127.0.0.1. Each side is "
              + "one process timed end to end: `sluice cat` (start-up, connection, login, listing, pull) and the "
              + "reference client, both writing the file to /dev/null; sides alternate, \(runs) rounds; medians. On the wire: both directions "
              + "of the loopback interface during the run.\n")
        print("| comparison | tool | seconds | MiB/s | CPU seconds | MiB on the wire | peak RSS MiB |")
        print("|---|---|---:|---:|---:|---:|---:|")
        var ratios: [(String, Double)] = []
        for (k, c) in comparisons.enumerated() {
            let conf = try pipeline("bench_pull_\(k)", source: c.source)
            var ours: [(ChildRun, Int64)] = []
            var theirs: [(ChildRun, Int64)] = []
            for _ in 0..<runs {
                ours.append(try measuredOnLoopback {
                    let r = try spawnMeasured(sluice, ["cat", "bench_pull_\(k)", file, "--config-dir", conf, "--state-dir", "\(work)/state-cat"])
                    guard r.status == 0 else { throw BenchError("sluice cat: exit \(r.status): \(r.stderr.suffix(600))") }
                    return r
                })
                theirs.append(try measuredOnLoopback {
                    let r = try spawnMeasured(c.reference.path, c.reference.args)
                    guard r.status == 0 else { throw BenchError("\(c.reference.label) failed (\(r.status)): \(r.stderr)") }
                    return r
                })
            }
            let median = ParquetBenchmark.median
            func row(_ tool: String, _ m: [(ChildRun, Int64)]) {
                let t = median(m.map(\.0.seconds))
                print("| \(c.label) | \(tool) | \(String(format: "%.3f", t)) | \(String(format: "%.1f", bytes / t / 1_048_576)) | "
                      + "\(String(format: "%.3f", median(m.map(\.0.cpuSeconds)))) | \(String(format: "%.1f", median(m.map { Double($0.1) }) / 1_048_576)) | "
                      + "\(String(format: "%.1f", m.map(\.0.peakRSSMiB).max() ?? 0)) |")
            }
            row("**sluice cat** (\(name) source) > /dev/null", ours)
            row(c.reference.label, theirs)
            ratios.append((c.label + " vs " + c.reference.label, median(zip(theirs, ours).map { $0.0.seconds / $1.0.seconds })))
        }
        print("\n| ratio | speed: their seconds ÷ Sluice's, median of the rounds (> 1 = Sluice faster) | target |")
        print("|---|---:|---|")
        for (label, r) in ratios { print("| \(label) | \(String(format: "%.2f×", r)) | ≥ 0.9× |") }

        // Append: the whole file loaded (checkpoint kept), 1 MiB appended, loaded again.
        let conf = try pipeline("bench_append", source: comparisons[0].source)
        _ = try once("bench_append", conf: conf, freshState: true)
        let appended = try append(path, bytes: 1 << 20)
        let (_, wire) = try measuredOnLoopback { try once("bench_append", conf: conf, freshState: false) }
        print("\nA 1 MiB append (\(appended) B) to the \(sizeMiB) MiB file, loaded by a second `sluice once` (\(comparisons[0].label)): "
              + "\(String(format: "%.3f", Double(wire) / 1_048_576)) MiB on the wire, connection and login included "
              + "(target ≤ 1.1 MB = \(String(format: "%.3f", 1.1e6 / 1_048_576)) MiB).")
    }

    /// Written a megabyte at a time: the bench process stays small, and so does the peak RSS
    /// that Linux carries from it into the children it spawns.
    func makeFile(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: localFolder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw BenchError("cannot create \(path)") }
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? out.close() }
        let target = sizeMiB << 20
        var written = 0
        var block = Array("id,machine,value\n".utf8)
        var i = 0
        while written < target {
            while block.count < 1 << 20 {
                i += 1
                block += Array("\(i),press-\(i % 7),\(Double(i % 1000) / 10)\n".utf8)
            }
            if written + block.count >= target {
                block.removeLast(written + block.count - target + 1)
                block.append(0x0A)
            }
            try out.write(contentsOf: block)
            written += block.count
            block.removeAll(keepingCapacity: true)
        }
    }

    func append(_ path: String, bytes: Int) throws -> Int {
        var data = Data()
        var i = 0
        while data.count < bytes { i += 1; data.append(contentsOf: Array("\(900_000_000 + i),press-a,\(i % 100)\n".utf8)) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: data)
        try h.close()
        return data.count
    }

    /// What `body` returns, and the bytes the loopback interface carried meanwhile.
    func measuredOnLoopback<T>(_ body: () throws -> T) throws -> (T, Int64) {
        let before = Self.loopbackBytes()
        let value = try body()
        return (value, Self.loopbackBytes() - before)
    }

    /// Bytes received on `lo` (on loopback every byte sent is also received once).
    static func loopbackBytes() -> Int64 {
        guard let text = try? String(contentsOfFile: "/proc/net/dev", encoding: .utf8) else { return 0 }
        for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("lo:") {
            let fields = line.split(separator: ":")[1].split(separator: " ")
            return Int64(fields[0]) ?? 0
        }
        return 0
    }
}
