// Benchmarks: `swift run -c release bench decode|postgres|parquet [--rows N] [--file PATH]`.
// Prints Sluice's figures next to reference tools measured in the same run on the same file.
import ConnectorKit
import Connectors
import Foundation
import Logging
import MachineSimulator

struct Measured { var seconds: Double; var cpu: Double }

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

func peakRSSMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

func timeCommand(_ path: String, _ args: [String]) throws -> Double? {
    guard FileManager.default.isExecutableFile(atPath: path) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    let t = Date()
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus == 0 ? Date().timeIntervalSince(t) : nil
}

func decodeBenchmark(file: String, rows: Int) async throws {
    let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
    let mb = Double(size) / 1e6
    let dir = (file as NSString).deletingLastPathComponent
    let name = (file as NSString).lastPathComponent
    var schema = SchemaConfiguration()
    schema.columns = [
        ("timestamp", .init(type: .timestamp)), ("machine", .init(type: .string)), ("temperature", .init(type: .float64)),
        ("pressure", .init(type: .decimal(precision: 8, scale: 2))), ("status", .init(type: .string)), ("count", .init(type: .int64)),
    ]
    let stateDir = NSTemporaryDirectory() + "sluice-bench-\(UUID().uuidString.prefix(8))"
    let sink = DiscardSink()
    let pipeline = Pipeline(
        name: "bench",
        source: TailingSource(fileSystem: LocalFileSystem(root: dir), options: TailerOptions(glob: Glob(name))),
        decoder: CSVDecoder(CSVConfiguration()), transforms: [("schema", try SchemaTransform(schema))], sink: sink,
        deadLetterPath: stateDir + "/dead-letter.jsonl")
    let engine = PipelineEngine(pipeline: pipeline, checkpointStore: LocalCheckpointStore(stateDirectory: stateDir, pipeline: "bench"))
    let cpu0 = cpuSeconds()
    let t0 = Date()
    try await engine.runOnce(context: RunContext(pipeline: "bench", logger: Logger(label: "bench")))
    let wall = Date().timeIntervalSince(t0)
    let cpu = cpuSeconds() - cpu0
    let loaded = await sink.rows
    try? FileManager.default.removeItem(atPath: stateDir)
    guard loaded == rows else { print("error: loaded \(loaded) rows, expected \(rows)"); exit(1) }

    print("decode+cast benchmark: \(rows) rows, \(String(format: "%.1f", mb)) MB (\(file))")
    func line(_ label: String, _ secs: Double?) {
        guard let secs else { print("  \(label.padding(toLength: 34, withPad: " ", startingAt: 0)) (not available)"); return }
        print("  \(label.padding(toLength: 34, withPad: " ", startingAt: 0)) \(String(format: "%8.3f", secs)) s  \(String(format: "%11.0f", Double(rows) / secs)) rows/s  \(String(format: "%7.1f", mb / secs)) MB/s  ratio vs sluice \(String(format: "%.2f", wall / secs))")
    }
    line("sluice csv+schema → discard (wall)", wall)
    print("  sluice CPU time \(String(format: "%.3f", cpu)) s → \(String(format: "%.1f", mb / cpu)) MB per CPU-second (one-core figure), peak RSS \(String(format: "%.1f", peakRSSMiB())) MiB")
    line("wc -l", try timeCommand("/usr/bin/wc", ["-l", file]))
    let py = "import csv,sys\nn=0\nwith open(sys.argv[1], newline='') as f:\n  for r in csv.reader(f): n+=1\n"
    let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    line("python3 csv.reader (split only)", try python.flatMap { try timeCommand($0, ["-c", py, file]) })
    let pyCast = "import csv,sys,datetime,decimal\nn=0\nwith open(sys.argv[1], newline='') as f:\n  r=csv.reader(f); next(r)\n  for t,m,temp,p,s,c in r:\n    datetime.datetime.fromisoformat(t.replace('Z','+00:00')); float(temp); decimal.Decimal(p); int(c); n+=1\n"
    line("python3 csv.reader + casts", try python.flatMap { try timeCommand($0, ["-c", pyCast, file]) })
}

let args = CommandLine.arguments.dropFirst()
if let remote = args.first, remote == "smb" || remote == "sftp" {
    let size = args.dropFirst().first == "--size-mib" ? Int(args.dropFirst(2).first ?? "") ?? 200 : 200
    do {
        if remote == "smb" { try await smbBenchmark(sizeMiB: size) } else { try await sftpBenchmark(sizeMiB: size) }
    } catch {
        print("error: \(error)")
        exit(1)
    }
    exit(0)
}
guard let command = args.first, ["decode", "postgres", "parquet", "generate"].contains(command) else {
    print("""
        usage: bench decode [--rows N] [--file PATH]
               bench postgres [--rows N] [--file PATH] [--url URL] [--password PW]
               bench parquet [--rows N] [--runs N] [--file PATH]   (DuckDB and pyarrow from scripts/py-env.sh)
               bench smb [--size-mib N]      (the SMB3 server of scripts/smb-start.sh; default 200)
               bench sftp [--size-mib N]     (the sshd of scripts/ssh-start.sh; default 200)
        Generates the simulator CSV when the file is missing. postgres needs a server: scripts/pg-start.sh
        (the default URL is its 127.0.0.1:55432) and the release sluice binary next to bench.
        """)
    exit(2)
}
var rows = 2_000_000
var runs = 3
var file: String?
var url = "postgresql://postgres@127.0.0.1:55432/postgres?sslmode=disable"
var password = ProcessInfo.processInfo.environment["SLUICE_BENCH_PGPASSWORD"] ?? "testpw"
var it = args.dropFirst().makeIterator()
while let a = it.next() {
    switch a {
    case "--rows": rows = Int(it.next() ?? "") ?? rows
    case "--runs": runs = max(1, Int(it.next() ?? "") ?? runs)
    case "--file": file = it.next()
    case "--url": url = it.next() ?? url
    case "--password": password = it.next() ?? password
    default: print("unknown option \(a)"); exit(2)
    }
}
let path = file ?? NSTemporaryDirectory() + "sluice-bench-\(rows).csv"
if command == "generate" {
    try? FileManager.default.removeItem(atPath: path)
    try MachineSimulator(style: .linux, seed: 1).write(path: path, machine: "line-01", totalRows: rows, mode: .append)
    exit(0)
}
if try MachineSimulator.countRows(path: path) != rows {
    // In a child process, so that the peak RSS printed below is the decode's alone.
    print("generating \(rows) simulator rows into \(path)…")
    let p = Process()
    p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    p.arguments = ["generate", "--rows", String(rows), "--file", path]
    try p.run()
    p.waitUntilExit()
}
switch command {
case "parquet":
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: \(sluice) is missing: swift build -c release --product sluice --static-swift-stdlib")
        exit(1)
    }
    // DuckDB and pyarrow from scripts/py-env.sh (run here when missing), so they are always measured.
    var python = ProcessInfo.processInfo.environment["SLUICE_BENCH_PYTHON"] ?? FileManager.default.currentDirectoryPath + "/.build/pyenv/bin/python3"
    if (try? spawnMeasured(python, ["-c", "import duckdb, pyarrow"]).status) != 0 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["scripts/py-env.sh"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        python = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n").last.map(String.init) ?? python
        p.waitUntilExit()
    }
    do {
        try ParquetBenchmark(file: path, rows: rows, runs: runs, sluice: sluice, python: python).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
case "postgres":
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: \(sluice) is missing: swift build -c release --product sluice --static-swift-stdlib")
        exit(1)
    }
    // A Python with pandas, SQLAlchemy and psycopg2 for the to_sql comparison, if there is one.
    let candidates = [ProcessInfo.processInfo.environment["SLUICE_BENCH_PYTHON"], "/usr/bin/python3"].compactMap { $0 }
    let python = candidates.first { p in
        (try? spawnMeasured(p, ["-c", "import pandas, sqlalchemy, psycopg2"]).status) == 0
    }
    do {
        try PostgresBenchmark(file: path, rows: rows, url: url, password: password, sluice: sluice, python: python).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
default:
    try await decodeBenchmark(file: path, rows: rows)
}
