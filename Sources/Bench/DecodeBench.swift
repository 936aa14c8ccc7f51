import Foundation

/// `bench decode`: the simulator CSV read, parsed and cast by `sluice once` into the `discard`
/// sink (a process, start-up included), beside `wc -l` and Python's `csv` module on the same
/// file. Sides alternate for `runs` rounds; the table holds medians and the median of the
/// per-round ratios.
struct DecodeBench {
    let sluice: String
    let file: String
    let rows: Int
    let runs: Int
    let work = NSTemporaryDirectory() + "sluice-bench-decode-\(UUID().uuidString.prefix(8))"

    struct Side {
        var label: String
        var run: () throws -> ChildRun
    }

    func sluiceSide() throws -> Side {
        let conf = "\(work)/conf"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try (simulatorPipeline(name: "bench-decode", file: file) + """
            [sink]
            type = "discard"
            """).write(toFile: "\(conf)/bench-decode.toml", atomically: true, encoding: .utf8)
        return Side(label: "sluice once (csv → schema → discard)") {
            try? FileManager.default.removeItem(atPath: "\(work)/state")
            let r = try spawnMeasured(sluice, ["once", "bench-decode", "--config-dir", conf, "--state-dir", "\(work)/state", "--no-progress"])
            guard r.status == 0 else { throw BenchError("sluice once: \(r.stderr)") }
            return r
        }
    }

    static func command(_ label: String, _ path: String, _ args: [String]) -> Side {
        Side(label: label) {
            let r = try spawnMeasured(path, args)
            guard r.status == 0 else { throw BenchError("\(label): exit \(r.status): \(r.stderr.suffix(400))") }
            return r
        }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        let mb = Double(size) / 1e6
        _ = try spawnMeasured("/bin/cat", [file])  // the file in the page cache for everyone
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let python else { throw BenchError("python3 is missing (scripts/setup.sh installs it)") }
        let split = "import csv,sys\nn=0\nwith open(sys.argv[1], newline='') as f:\n  for r in csv.reader(f): n+=1\n"
        let cast = "import csv,sys,datetime,decimal\nn=0\nwith open(sys.argv[1], newline='') as f:\n  r=csv.reader(f); next(r)\n"
            + "  for t,m,temp,p,s,c in r:\n    datetime.datetime.fromisoformat(t.replace('Z','+00:00')); float(temp); decimal.Decimal(p); int(c); n+=1\n"
        let sides = [
            try sluiceSide(),
            Self.command("`wc -l`", "/usr/bin/wc", ["-l", file]),
            Self.command("Python `csv.reader` (split only)", python, ["-c", split, file]),
            Self.command("Python `csv.reader` + casts (datetime, float, Decimal, int)", python, ["-c", cast, file]),
        ]
        var results = [[ChildRun]](repeating: [], count: sides.count)
        for _ in 0..<runs {
            for (i, side) in sides.enumerated() { results[i].append(try side.run()) }
        }
        let median = ParquetBenchmark.median
        let date = ISO8601DateFormatter().string(from: Date())
        print("### bench decode — \(date)\n")
        print("`swift run -c release bench decode --rows \(rows) --runs \(runs)`: \(rows) simulator rows, "
              + "\(String(format: "%.1f", mb)) MB CSV. Each side is one process timed end to end (Sluice: `sluice once`, start-up, "
              + "checkpoint and commit included); sides alternate, \(runs) rounds; medians. CPU is the process's user + system time.\n")
        print("| tool | seconds | rows/s | MB/s | CPU seconds | MB per CPU-second | peak RSS MiB |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for (i, side) in sides.enumerated() {
            let t = median(results[i].map(\.seconds)), cpu = median(results[i].map(\.cpuSeconds))
            print("| \(side.label) | \(String(format: "%.3f", t)) | \(String(format: "%.0f", Double(rows) / t)) | \(String(format: "%.1f", mb / t)) | "
                  + "\(String(format: "%.3f", cpu)) | \(String(format: "%.1f", mb / cpu)) | \(String(format: "%.1f", median(results[i].map(\.peakRSSMiB)))) |")
        }
        print("\n| ratio (Sluice vs …) | speed: their seconds ÷ Sluice's (> 1 = Sluice faster) | CPU: their CPU seconds ÷ Sluice's (> 1 = Sluice cheaper) |")
        print("|---|---:|---:|")
        for i in 1..<sides.count {
            let speed = zip(results[i], results[0]).map { $0.seconds / $1.seconds }
            let cpu = zip(results[i], results[0]).map { $0.cpuSeconds / $1.cpuSeconds }
            print("| \(sides[i].label) | \(String(format: "%.2f×", median(speed))) | \(String(format: "%.2f×", median(cpu))) |")
        }
        var own = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        print("\nPeak RSS reads no lower than the bench process's own (\(String(format: "%.1f", Double(own.ru_maxrss) / 1024)) MiB): Linux "
              + "carries a spawning process's high-water mark into the child, so the smaller tools show that floor.")
        print("\nTarget (issue 14): decode + cast ≥ 250 MB per CPU-second.")
    }
}
