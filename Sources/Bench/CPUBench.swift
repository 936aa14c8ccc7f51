import Foundation
import MachineSimulator

/// `bench cpu --baseline PATH`: Sluice's own CPU time for one load, this build against an
/// earlier one (issue 14: "a third of today's CPU per row"), on the simulator's `plant` file —
/// nine columns, NULLs, plant-local timestamps with milliseconds — into a day-partitioned
/// PostgreSQL table whose partitions exist. Both binaries run the same pipeline file, as
/// processes, in alternating rounds; the table is emptied (untimed) before each; medians.
struct CPUBenchmark {
    var file: String
    var rows: Int
    var url: String
    var password: String
    var current: String
    var baseline: String
    var runs: Int
    let schema = "sluice_bench_cpu"
    let work = NSTemporaryDirectory() + "sluice-bench-cpu-\(UUID().uuidString.prefix(8))"

    static func makeFile(_ path: String, rows: Int) throws {
        if (try? MachineSimulator.countRows(path: path)) == rows { return }
        try? FileManager.default.removeItem(atPath: path)
        try MachineSimulator(style: .plant, seed: 1).write(path: path, machine: "line-01", totalRows: rows, mode: .append)
    }

    func pg() -> PostgresBenchmark {
        PostgresBenchmark(file: file, rows: rows, url: url, password: password, sluice: current, python: nil, runs: runs)
    }

    func pipeline(_ name: String) throws -> String {
        let conf = "\(work)/\(name)"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try (filesSourceTOML(name: name, file: file) + """
            [[transform]]
            type = "csv"
            [[transform]]
            type = "schema"
            timezone = "\(MachineSimulator.plantZone)"
            [transform.columns]
            timestamp = { type = "timestamp", format = "yyyy-MM-dd HH:mm:ss.SSS", nullable = false }
            machine = "string"
            temperature = "float64"
            pressure = "decimal(8,2)"
            speed = "int32"
            status = "string"
            operator = "string"
            count = "int64"
            batch = "string"
            [sink]
            type = "postgres"
            url = "\(url)"
            password_file = "\(work)/pgpass"
            schema = "\(schema)"
            table = "\(name)"
            partition = { column = "timestamp", interval = "day", premake = 0 }
            """).write(toFile: "\(conf)/\(name).toml", atomically: true, encoding: .utf8)
        return conf
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try password.write(toFile: "\(work)/pgpass", atomically: true, encoding: .utf8)
        chmod("\(work)/pgpass", 0o600)
        let db = pg()
        try db.psql("CREATE SCHEMA IF NOT EXISTS \(schema)")
        let sides = [("this build", current, "bench_cpu_now"), ("baseline", baseline, "bench_cpu_base")]
        var results: [[ChildRun]] = [[], []]
        var confs: [String] = []
        for (_, binary, name) in sides {
            let conf = try pipeline(name)
            confs.append(conf)
            // An untimed first load makes the table and its partitions, as a daemon finds them.
            try db.psql("DROP TABLE IF EXISTS \(schema).\(name) CASCADE; " + forgetCheckpointsSQL(where: "pipeline = '\(name)'"))
            let r = try spawnMeasured(binary, ["once", name, "--config-dir", conf, "--state-dir", "\(work)/state-\(name)", "--no-progress"])
            guard r.status == 0 else { throw BenchError("\(binary) once \(name): \(r.stderr.suffix(800))") }
        }
        for _ in 0..<runs {
            for (k, (_, binary, name)) in sides.enumerated() {
                try db.psql("TRUNCATE \(schema).\(name); DELETE FROM public.sluice_checkpoints WHERE pipeline = '\(name)'; CHECKPOINT")
                try? FileManager.default.removeItem(atPath: "\(work)/state-\(name)")
                let r = try spawnMeasured(binary, ["once", name, "--config-dir", confs[k], "--state-dir", "\(work)/state-\(name)", "--no-progress"])
                guard r.status == 0 else { throw BenchError("\(binary) once \(name): \(r.stderr.suffix(800))") }
                results[k].append(r)
            }
        }
        let checksum = "SELECT count(*) || ' ' || md5(string_agg(concat_ws('|', \"timestamp\", machine, temperature, pressure, speed, status, operator, \"count\", batch), ',' ORDER BY \"timestamp\", machine)) FROM \(schema)."
        let sums = try sides.map { try db.psql(checksum + $0.2) }
        guard sums[0] == sums[1], sums[0].hasPrefix("\(rows) ") else { throw BenchError("the two loads differ: \(sums)") }

        let median = ParquetBenchmark.median
        let size = ((try? FileManager.default.attributesOfItem(atPath: file)[.size]) as? Int) ?? 0
        print("### bench cpu — \(ISO8601DateFormatter().string(from: Date()))\n")
        print("`swift run -c release bench cpu --baseline \(baseline) --rows \(rows) --runs \(runs)`: \(rows) rows of the simulator's `plant` "
              + "style (\(String(format: "%.1f", Double(size) / 1e6)) MB: nine columns, NULLs, \(MachineSimulator.plantZone) times with milliseconds) "
              + "loaded by `sluice once` into a day-partitioned PostgreSQL table whose partitions exist, by this build and by the baseline "
              + "binary, in alternating rounds (\(runs)); medians. CPU is the process's user + system time (the server's is not in it). "
              + "Both tables hold the same rows (count and md5 over every column).\n")
        print("| build | seconds | CPU seconds | rows per CPU-second | peak RSS MiB |")
        print("|---|---:|---:|---:|---:|")
        for (k, side) in sides.enumerated() {
            let cpu = median(results[k].map(\.cpuSeconds))
            print("| \(side.0) (`\(side.1)`) | \(String(format: "%.3f", median(results[k].map(\.seconds)))) | \(String(format: "%.3f", cpu)) | "
                  + "\(String(format: "%.0f", Double(rows) / cpu)) | \(String(format: "%.1f", results[k].map(\.peakRSSMiB).max() ?? 0)) |")
        }
        let ratio = median(zip(results[1], results[0]).map { $0.cpuSeconds / $1.cpuSeconds })
        print("\n| ratio | CPU: the baseline's CPU seconds ÷ this build's, median of the rounds (> 1 = this build cheaper) | target |")
        print("|---|---:|---|")
        print("| this build vs the baseline | \(String(format: "%.2f×", ratio)) | ≥ 3× (a third of the CPU per row) |")
        _ = try? db.psql("DROP SCHEMA \(schema) CASCADE; DELETE FROM public.sluice_checkpoints WHERE pipeline LIKE 'bench\\_cpu\\_%'")
    }
}
