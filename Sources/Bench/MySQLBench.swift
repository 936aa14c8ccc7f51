import Foundation

/// `bench mysql`: the simulator CSV loaded into MariaDB by `sluice once` (multi-row INSERTs, and
/// LOAD DATA LOCAL fed from memory) and, in the same run, by the `mariadb` client's
/// `LOAD DATA LOCAL INFILE` of the same file into an identical table (what a DBA would run; the
/// timestamps converted with STR_TO_DATE). Every side is one process timed end to end; the sides
/// alternate for `runs` rounds; medians, and each ratio the median of per-round ratios.
struct MySQLBenchmark {
    var file: String
    var rows: Int
    var runs: Int
    var port: Int
    var password: String
    var sluice: String
    let database = "sluice_bench"
    let work = NSTemporaryDirectory() + "sluice-bench-mysql-\(UUID().uuidString.prefix(8))"

    static let columns = "`timestamp` DATETIME(6) NOT NULL, machine MEDIUMTEXT, temperature DOUBLE, pressure DECIMAL(8,2), status MEDIUMTEXT, `count` BIGINT"

    var client: String {
        ["/usr/bin/mariadb", "/usr/bin/mysql"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/mariadb"
    }

    func arguments(_ sql: String, database: String? = nil) -> [String] {
        ["--no-defaults", "--local-infile=1", "-h", "127.0.0.1", "-P", "\(port)", "-u", "sluice", "-N", "-B"] + (database.map { [$0] } ?? []) + ["-e", sql]
    }

    @discardableResult
    func sql(_ text: String, database: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: client)
        p.arguments = arguments(text, database: database)
        p.environment = ProcessInfo.processInfo.environment.merging(["MYSQL_PWD": password]) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("mariadb: \(String(decoding: e, as: UTF8.self))") }
        return String(decoding: o, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Row count and an order-independent checksum over every column.
    func fingerprint(_ table: String) throws -> String {
        try sql("SELECT count(*), SUM(CRC32(CONCAT_WS('|', `timestamp`, machine, temperature, pressure, status, `count`))) FROM `\(table)`", database: database)
    }

    struct Side {
        var label: String
        var table: String
        var run: () throws -> ChildRun
    }

    func sluiceSide(_ load: String) throws -> Side {
        let name = "bench_mysql_\(load)"
        let conf = "\(work)/\(name)"
        try FileManager.default.createDirectory(atPath: conf, withIntermediateDirectories: true)
        try (simulatorPipeline(name: name, file: file) + """
            [sink]
            type = "mysql"
            url = "mysql://sluice@127.0.0.1:\(port)/\(database)"
            password_file = "\(work)/password"
            table = "sluice_\(load)"
            create_table = false
            load = "\(load)"
            """).write(toFile: "\(conf)/\(name).toml", atomically: true, encoding: .utf8)
        return Side(label: "sluice once, \(load == "insert" ? "multi-row INSERT" : "LOAD DATA from memory")", table: "sluice_\(load)") {
            try sql("TRUNCATE TABLE `sluice_\(load)`; DELETE FROM sluice_checkpoints WHERE pipeline = '\(name)'", database: database)
            let r = try spawnMeasured(sluice, ["once", name, "--config-dir", conf, "--state-dir", "\(work)/state-\(name)", "--no-progress"])
            guard r.status == 0 else { throw BenchError("sluice once \(name): \(r.stderr)") }
            return r
        }
    }

    func clientSide() -> Side {
        let load = """
            LOAD DATA LOCAL INFILE '\(file)' INTO TABLE mariadb_load CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"'
            LINES TERMINATED BY '\\n' IGNORE 1 LINES (@ts, machine, temperature, pressure, status, `count`)
            SET `timestamp` = STR_TO_DATE(@ts, '%Y-%m-%dT%H:%i:%sZ')
            """
        return Side(label: "mariadb --local-infile LOAD DATA", table: "mariadb_load") {
            try sql("TRUNCATE TABLE mariadb_load", database: database)
            let r = try spawnMeasured(client, arguments(load, database: database), environment: ["MYSQL_PWD": password])
            guard r.status == 0 else { throw BenchError("mariadb LOAD DATA: \(r.stderr)") }
            return r
        }
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try "\(password)\n".write(toFile: "\(work)/password", atomically: true, encoding: .utf8)
        _ = try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: "\(work)/password")
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        _ = try spawnMeasured("/bin/cat", [file])
        try sql("DROP DATABASE IF EXISTS \(database); CREATE DATABASE \(database) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        for t in ["mariadb_load", "sluice_insert", "sluice_load_data"] {
            try sql("CREATE TABLE `\(t)` (\(Self.columns)) ENGINE=InnoDB", database: database)
        }
        try sql("CREATE TABLE sluice_checkpoints (pipeline VARCHAR(255) NOT NULL PRIMARY KEY, checkpoint LONGTEXT NOT NULL) ENGINE=InnoDB", database: database)
        let sides = [clientSide(), try sluiceSide("load_data"), try sluiceSide("insert")]
        var runs: [[ChildRun]] = Array(repeating: [], count: sides.count)
        for _ in 0..<self.runs {
            for (i, side) in sides.enumerated() { runs[i].append(try side.run()) }
        }
        let reference = try fingerprint("mariadb_load")
        guard reference.hasPrefix("\(rows)\t") else { throw BenchError("the mariadb load holds \(reference), expected \(rows) rows") }
        for side in sides.dropFirst() where try fingerprint(side.table) != reference {
            throw BenchError("\(side.table) differs from the mariadb client's load: \(try fingerprint(side.table)) vs \(reference)")
        }
        let version = try sql("SELECT version()")
        print("`swift run -c release bench mysql --rows \(rows) --runs \(runs.first?.count ?? 0)`: \(rows) simulator rows, "
              + "\(String(format: "%.1f", Double(size) / 1e6)) MB CSV, MariaDB \(version) on 127.0.0.1; each load is one process timed end to end; "
              + "sides alternate; medians. The three tables hold the same rows (count and CRC32 sum over every column).")
        print("")
        print("| side | seconds | rows/s | CPU s | peak RSS MiB |")
        print("|---|---:|---:|---:|---:|")
        for (i, side) in sides.enumerated() {
            let t = ParquetBenchmark.median(runs[i].map(\.seconds))
            print("| \(side.label) | \(String(format: "%.3f", t)) | \(String(format: "%.0f", Double(rows) / t)) | "
                  + "\(String(format: "%.2f", ParquetBenchmark.median(runs[i].map(\.cpuSeconds)))) | \(String(format: "%.1f", ParquetBenchmark.median(runs[i].map(\.peakRSSMiB)))) |")
        }
        print("")
        for i in 1..<sides.count {
            let ratio = ParquetBenchmark.median(zip(runs[0], runs[i]).map { $0.seconds / $1.seconds })
            print("- \(sides[i].label) ÷ mariadb LOAD DATA (speed): \(String(format: "%.2f×", ratio))")
        }
        try? sql("DROP DATABASE IF EXISTS \(database)")
    }
}
