import Foundation

/// `bench parquet`: the same simulator CSV to Parquet by `sluice once` (a process, start-up
/// included), and in the same run by DuckDB (`SET threads = 1`, `COPY … TO … (FORMAT parquet)`)
/// and pyarrow (one CPU, `read_csv` + `write_table`), each with zstd and with snappy. The sides run
/// in turn (A B C … A B C …) `runs` times; the table shows medians, and each ratio is the median of
/// the per-round ratios. Every output is checked with DuckDB: row count and sums over the columns.
struct ParquetBenchmark {
    var file: String
    var rows: Int
    var runs: Int
    var sluice: String
    var python: String
    let work = NSTemporaryDirectory() + "sluice-bench-parquet-\(UUID().uuidString.prefix(8))"

    struct Side {
        var label: String
        var codec: String
        var output: String
        var run: () throws -> ChildRun
    }

    struct Result {
        var seconds: [Double] = []
        var rss: [Double] = []
        var bytes: Int64 = 0
    }

    static let duckColumns = "{'timestamp': 'TIMESTAMPTZ', 'machine': 'VARCHAR', 'temperature': 'DOUBLE', 'pressure': 'DECIMAL(8,2)', 'status': 'VARCHAR', 'count': 'BIGINT'}"

    func sluiceSide(_ codec: String) throws -> Side {
        let conf = "\(work)/conf-\(codec)"
        let out = "\(work)/sluice-\(codec)"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try (simulatorPipeline(name: "bench-\(codec)", file: file) + """
            [sink]
            type = "parquet"
            path = "\(out)"
            table = "t"
            compression = "\(codec)"
            # One file for the whole load, like the other tools (the sink's default is a file per 1M rows).
            file_rows = 100000000
            file_interval = "1h"
            """).write(toFile: "\(conf)/bench-\(codec).toml", atomically: true, encoding: .utf8)
        return Side(label: "sluice once", codec: codec, output: out) {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: "\(work)/state-\(codec)")
            let r = try spawnMeasured(sluice, ["once", "bench-\(codec)", "--config-dir", conf, "--state-dir", "\(work)/state-\(codec)", "--no-progress"])
            guard r.status == 0 else { throw BenchError("sluice once: \(r.stderr)") }
            return r
        }
    }

    func pythonSide(_ label: String, codec: String, script: String) -> Side {
        let out = "\(work)/\(label)-\(codec).parquet"
        return Side(label: label, codec: codec, output: out) {
            try? FileManager.default.removeItem(atPath: out)
            let r = try spawnMeasured(python, ["-c", script, file, out, codec])
            guard r.status == 0 else { throw BenchError("\(label): \(r.stderr.suffix(600))") }
            return r
        }
    }

    var duckdbScript: String {
        """
        import sys, duckdb
        con = duckdb.connect()
        con.execute("SET threads = 1")
        con.execute(f"COPY (SELECT * FROM read_csv('{sys.argv[1]}', header = true, columns = \(Self.duckColumns.replacingOccurrences(of: "{", with: "{{").replacingOccurrences(of: "}", with: "}}")))) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION {sys.argv[3]})")
        """
    }

    var pyarrowScript: String {
        """
        import sys, pyarrow as pa, pyarrow.csv as csv, pyarrow.parquet as pq
        pa.set_cpu_count(1); pa.set_io_thread_count(1)
        types = {"timestamp": pa.timestamp("us", tz="UTC"), "machine": pa.string(), "temperature": pa.float64(),
                 "pressure": pa.decimal128(8, 2), "status": pa.string(), "count": pa.int64()}
        table = csv.read_csv(sys.argv[1], read_options=csv.ReadOptions(use_threads=False), convert_options=csv.ConvertOptions(column_types=types))
        pq.write_table(table, sys.argv[2], compression=sys.argv[3])
        """
    }

    /// Row count and sums over the columns of every Parquet file under `path`, by DuckDB.
    func fingerprint(_ path: String) throws -> String {
        let glob = path.hasSuffix(".parquet") ? path : path + "/**/*.parquet"
        let script = """
            import sys, duckdb
            print(duckdb.sql(f"SELECT count(*), sum(epoch_us(timestamp)), sum(CAST(round(temperature * 1000) AS BIGINT)), sum(pressure), sum(count), count(machine), count(status), sum(length(machine)) FROM read_parquet('{sys.argv[1]}')").fetchall()[0])
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, glob]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func bytes(_ path: String) -> Int64 {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return 0 }
        guard isDir.boolValue else { return (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64) ?? 0 }
        let names = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String]) ?? []
        return names.filter { $0.hasSuffix(".parquet") }.reduce(0) { $0 + Self.bytes(path + "/" + $1) }
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        _ = try spawnMeasured("/bin/cat", [file])  // the file in the page cache for everyone
        var sides: [Side] = []
        for codec in ["zstd", "snappy"] {
            sides.append(try sluiceSide(codec))
            sides.append(pythonSide("duckdb", codec: codec, script: duckdbScript))
            sides.append(pythonSide("pyarrow", codec: codec, script: pyarrowScript))
        }
        var results = [Result](repeating: Result(), count: sides.count)
        for _ in 0..<runs {
            for (i, side) in sides.enumerated() {
                let r = try side.run()
                results[i].seconds.append(r.seconds)
                results[i].rss.append(r.peakRSSMiB)
                results[i].bytes = Self.bytes(side.output)
            }
        }
        // Same rows everywhere.
        let reference = try fingerprint(sides[1].output)
        for side in sides where try fingerprint(side.output) != reference {
            throw BenchError("\(side.label) \(side.codec) wrote other rows than DuckDB: \(try fingerprint(side.output)) vs \(reference)")
        }
        guard reference.hasPrefix("(\(rows),") else { throw BenchError("DuckDB counts \(reference), expected \(rows) rows") }

        let date = ISO8601DateFormatter().string(from: Date())
        print("### bench parquet — \(date)\n")
        print("`swift run -c release bench parquet --rows \(rows) --runs \(runs)`: \(rows) simulator rows, "
              + "\(String(format: "%.1f", Double(size) / 1e6)) MB CSV → Parquet. Each side is one process timed end to end "
              + "(start, read, parse, cast, encode, compress, write); sides alternate, \(runs) rounds; medians. "
              + "Same rows in every output (DuckDB: count and column sums).\n")
        print("| tool | codec | seconds | rows/s | output bytes | peak RSS MiB |")
        print("|---|---|---:|---:|---:|---:|")
        for (i, side) in sides.enumerated() {
            let t = Self.median(results[i].seconds)
            print("| \(side.label) | \(side.codec) | \(String(format: "%.3f", t)) | \(String(format: "%.0f", Double(rows) / t)) | \(results[i].bytes) | \(String(format: "%.1f", Self.median(results[i].rss))) |")
        }
        print("\n| ratio (Sluice vs …) | codec | speed: their seconds ÷ Sluice's (> 1 = Sluice faster) | size: Sluice bytes ÷ theirs (< 1 = Sluice smaller) |")
        print("|---|---|---:|---:|")
        for (i, side) in sides.enumerated() where side.label != "sluice once" {
            let s = sides.firstIndex { $0.label == "sluice once" && $0.codec == side.codec }!
            let perRound = zip(results[i].seconds, results[s].seconds).map { $0 / $1 }
            print("| \(side.label) | \(side.codec) | \(String(format: "%.2f×", Self.median(perRound))) | \(String(format: "%.2f", Double(results[s].bytes) / Double(results[i].bytes))) |")
        }
        print("\nTargets: speed ≥ 1.0× DuckDB threads=1; size ≤ DuckDB's with zstd; Sluice's peak RSS ≤ row group (128 MiB) + 64 MiB.")
    }
}
