// Benchmarks: `swift run -c release bench decode|postgres|mysql|parquet [--rows N] [--file PATH]`.
// Prints Sluice's figures next to reference tools measured in the same run on the same file.
import Foundation
import MachineSimulator

let args = CommandLine.arguments.dropFirst()
/// The release `sluice` next to this `bench` binary: every benchmark times it as a process.
func sluiceBinary() -> String {
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: \(sluice) is missing: swift build -c release --product sluice --static-swift-stdlib")
        exit(1)
    }
    return sluice
}

if let remote = args.first, remote == "smb" || remote == "sftp" {
    var options = args.dropFirst().makeIterator()
    var size = 200, remoteRuns = 3
    while let a = options.next() {
        switch a {
        case "--size-mib": size = Int(options.next() ?? "") ?? size
        case "--runs": remoteRuns = max(1, Int(options.next() ?? "") ?? remoteRuns)
        default: print("unknown option \(a)"); exit(2)
        }
    }
    do {
        if remote == "smb" { try smbBenchmark(sizeMiB: size, runs: remoteRuns, sluice: sluiceBinary()) } else { try sftpBenchmark(sizeMiB: size, runs: remoteRuns, sluice: sluiceBinary()) }
    } catch {
        print("error: \(error)")
        exit(1)
    }
    exit(0)
}
if args.first == "memory" {
    var options = args.dropFirst().makeIterator()
    var rowCounts = [1_000_000, 4_000_000, 16_000_000], memoryRuns = 3
    var pgURL = "postgresql://postgres@127.0.0.1:55432/postgres?sslmode=disable"
    var pgPassword = ProcessInfo.processInfo.environment["SLUICE_BENCH_PGPASSWORD"] ?? "testpw"
    while let a = options.next() {
        switch a {
        case "--rows":
            let counts = (options.next() ?? "").split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 }
            if !counts.isEmpty { rowCounts = counts.sorted() }
        case "--runs": memoryRuns = max(1, Int(options.next() ?? "") ?? memoryRuns)
        case "--url": pgURL = options.next() ?? pgURL
        case "--password": pgPassword = options.next() ?? pgPassword
        default: print("unknown option \(a)"); exit(2)
        }
    }
    do {
        let sluice = sluiceBinary()
        var files: [(rows: Int, path: String)] = []
        for rows in rowCounts {
            let path = NSTemporaryDirectory() + "sluice-bench-\(rows).csv"
            if try MachineSimulator.countRows(path: path) != rows {
                // In a child process: a spawned child's peak RSS starts from this process's high-water mark.
                print("generating \(rows) simulator rows into \(path)…")
                let generator = try spawnMeasured(CommandLine.arguments[0], ["generate", "--rows", String(rows), "--file", path])
                guard generator.status == 0 else { throw BenchError("generating \(rows) rows: \(generator.stderr)") }
            }
            files.append((rows, path))
        }
        try MemoryBenchmark(files: files, url: pgURL, password: pgPassword, sluice: sluice, runs: memoryRuns).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
    exit(0)
}
if args.first == "daemon" {
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: \(sluice) is missing: swift build -c release --product sluice --static-swift-stdlib")
        exit(1)
    }
    var bench = DaemonBench(sluice: sluice, pgURL: "postgresql://postgres@127.0.0.1:55432/postgres?sslmode=disable",
                            password: ProcessInfo.processInfo.environment["SLUICE_BENCH_PGPASSWORD"] ?? "testpw")
    var options = args.dropFirst().makeIterator()
    while let a = options.next() {
        switch a {
        case "--idle-pipelines": bench.idlePipelines = Int(options.next() ?? "") ?? bench.idlePipelines
        case "--idle-seconds": bench.idleSeconds = Double(options.next() ?? "") ?? bench.idleSeconds
        case "--appends": bench.appends = Int(options.next() ?? "") ?? bench.appends
        case "--hosts": bench.hosts = min(40, max(1, Int(options.next() ?? "") ?? bench.hosts))
        case "--url": bench.pgURL = options.next() ?? bench.pgURL
        case "--password": bench.password = options.next() ?? bench.password
        default: print("unknown option \(a)"); exit(2)
        }
    }
    do { try bench.run() } catch {
        print("error: \(error)")
        exit(1)
    }
    exit(0)
}
guard let command = args.first, ["decode", "postgres", "mysql", "parquet", "generate", "cpu"].contains(command) else {
    print("""
        usage: bench decode [--rows N] [--runs N] [--file PATH]
               bench postgres [--rows N] [--runs N] [--file PATH] [--url URL] [--password PW]
               bench cpu --baseline PATH [--rows N] [--runs N]   (Sluice's CPU per load against an earlier sluice binary, PostgreSQL as above)
               bench parquet [--rows N] [--runs N] [--file PATH]   (DuckDB and pyarrow from scripts/py-env.sh)
               bench mysql [--rows N] [--runs N] [--file PATH]     (the MariaDB of scripts/mariadb-start.sh)
               bench smb [--size-mib N] [--runs N]   (the SMB3 server of scripts/smb-start.sh; default 200)
               bench sftp [--size-mib N] [--runs N]  (the sshd of scripts/ssh-start.sh; default 200)
               bench memory [--rows 1000000,4000000,16000000] [--runs N]   (Sluice's peak RSS as the file grows, PostgreSQL as above)
               bench daemon [--idle-pipelines 50] [--idle-seconds 300] [--appends 200] [--hosts 40]
                             (idle CPU, append→PostgreSQL latency with watch 1s, a hall of SMB1 hosts;
                              PostgreSQL of scripts/pg-start.sh, Samba press servers started here)
        Generates the simulator CSV when the file is missing. postgres needs a server: scripts/pg-start.sh
        (the default URL is its 127.0.0.1:55432) and the release sluice binary next to bench.
        """)
    exit(2)
}
var rows = 2_000_000
var runs = 3
var file: String?
var baseline: String?
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
    case "--baseline": baseline = it.next()
    default: print("unknown option \(a)"); exit(2)
    }
}
let path = file ?? NSTemporaryDirectory() + "sluice-bench-\(rows).csv"
if command == "generate" {
    try? FileManager.default.removeItem(atPath: path)
    try MachineSimulator(style: .linux, seed: 1).write(path: path, machine: "line-01", totalRows: rows, mode: .append)
    exit(0)
}
if command == "cpu" {
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard let baseline, FileManager.default.isExecutableFile(atPath: baseline), FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: bench cpu needs --baseline PATH (an earlier sluice binary) and \(sluice)")
        exit(2)
    }
    let plant = file ?? NSTemporaryDirectory() + "sluice-bench-plant-\(rows).csv"
    do {
        try CPUBenchmark.makeFile(plant, rows: rows)
        try CPUBenchmark(file: plant, rows: rows, url: url, password: password, current: sluice, baseline: baseline, runs: runs).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
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
    let python = try benchPython(importing: "duckdb, pyarrow")
    do {
        try ParquetBenchmark(file: path, rows: rows, runs: runs, sluice: sluice, python: python).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
case "mysql":
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: \(sluice) is missing: swift build -c release --product sluice --static-swift-stdlib")
        exit(1)
    }
    do {
        try MySQLBenchmark(file: path, rows: rows, runs: runs, port: 53306, password: ProcessInfo.processInfo.environment["SLUICE_BENCH_MYSQL_PASSWORD"] ?? "testpw",
                           sluice: sluice).run()
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
    // pandas, SQLAlchemy and psycopg2 from scripts/py-env.sh (run here when missing), so to_sql is always measured.
    let python = try benchPython(importing: "pandas, sqlalchemy, psycopg2")
    do {
        try PostgresBenchmark(file: path, rows: rows, url: url, password: password, sluice: sluice, python: python, runs: runs).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
default:
    let sluice = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("sluice").path
    guard FileManager.default.isExecutableFile(atPath: sluice) else {
        print("error: \(sluice) is missing: swift build -c release --product sluice --static-swift-stdlib")
        exit(1)
    }
    do {
        try DecodeBench(sluice: sluice, file: path, rows: rows, runs: runs).run()
    } catch {
        print("error: \(error)")
        exit(1)
    }
}
