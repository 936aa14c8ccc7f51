import ConnectorKit
import Foundation

/// pyarrow, DuckDB and fastparquet in the virtualenv `scripts/py-env.sh` makes, run through
/// `Readers/read_parquet.py`. Locally the interop tests are skipped (with this reason) when that
/// Python is missing; under CI (`CI=true`) they always run, so a missing one fails them.
enum PythonReaders {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let python = ProcessInfo.processInfo.environment["SLUICE_TEST_PYTHON"] ?? packageRoot + "/.build/pyenv/bin/python3"
    static let script = packageRoot + "/Tests/ParquetTests/Readers/read_parquet.py"
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static let available = FileManager.default.isExecutableFile(atPath: python)
    static let enabled = available || required

    static let readerNames = ["pyarrow", "duckdb", "fastparquet"]

    /// What each reader saw, per file: `result[path][reader]` is a dictionary with "columns",
    /// "stats", "rows", or "error".
    static func read(_ paths: [String]) throws -> [String: [String: [String: Any]]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + paths
        let out = ProcessLaunch.pipe(), err = ProcessLaunch.pipe()
        process.standardOutput = out
        process.standardError = err
        try ProcessLaunch.run(process)
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ReaderFailure(message: "read_parquet.py exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self).suffix(3000))")
        }
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: [String: [String: Any]]] else {
            throw ReaderFailure(message: "read_parquet.py printed no JSON object")
        }
        return json
    }

    struct ReaderFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// What was written to one file, to compare with what readers see.
struct WrittenFile {
    var path: String
    var schema: Schema
    var columns: [Column]
    var rowGroupRows: Int

    var rows: Int { columns.first?.count ?? 0 }

    /// Differences between what `reader` saw and what was written (empty when equal).
    func differences(_ seen: [String: Any], reader: String, checkStatistics: Bool) -> [String] {
        if let error = seen["error"] as? String { return ["\(reader): \(error)\n\(seen["trace"] as? String ?? "")"] }
        var problems: [String] = []
        guard let columnsSeen = seen["columns"] as? [String: [Any]] else { return ["\(reader): no columns"] }
        for (c, field) in schema.fields.enumerated() {
            guard let values = columnsSeen[field.name] else { problems.append("\(reader): column \(field.name) missing"); continue }
            guard values.count == rows else { problems.append("\(reader): \(field.name) has \(values.count) rows, \(rows) written"); continue }
            var shown = 0
            for row in 0..<rows {
                let expected = TestData.canonical(columns[c], field.type, row)
                if !Self.same(values[row], expected, field.type) {
                    if shown < 3 { problems.append("\(reader): \(field.name)[\(row)] = \(values[row]), written \(expected ?? "NULL")") }
                    shown += 1
                }
            }
            if shown > 3 { problems.append("\(reader): \(field.name): \(shown) values differ in all") }
        }
        guard checkStatistics else { return problems }
        guard let stats = seen["stats"] as? [[Any]] else { return problems + ["\(reader): no statistics"] }
        let groups = rows == 0 ? 0 : (rows + rowGroupRows - 1) / rowGroupRows
        guard stats.count == groups else { return problems + ["\(reader): \(stats.count) row groups, \(groups) written"] }
        for g in 0..<groups {
            let range = (g * rowGroupRows)..<min(rows, (g + 1) * rowGroupRows)
            for (c, field) in schema.fields.enumerated() {
                let truth = TrueStatistics(columns[c], field.type, range)
                guard let entry = stats[g][c] as? [String: Any] else {
                    problems.append("\(reader): row group \(g) \(field.name) has no statistics"); continue
                }
                if (entry["null_count"] as? Int) != truth.nullCount {
                    problems.append("\(reader): row group \(g) \(field.name) null_count \(entry["null_count"] ?? "none"), true \(truth.nullCount)")
                }
                let minSeen = entry["min"], maxSeen = entry["max"]
                if truth.min == nil {
                    if minSeen != nil || maxSeen != nil { problems.append("\(reader): row group \(g) \(field.name) has min/max for no values") }
                } else if !Self.sameStatistic(minSeen, truth.min, field.type, reader) || !Self.sameStatistic(maxSeen, truth.max, field.type, reader) {
                    problems.append("\(reader): row group \(g) \(field.name) min/max \(minSeen ?? "none")/\(maxSeen ?? "none"), true \(truth.min!)/\(truth.max!)")
                }
            }
        }
        return problems
    }

    /// DuckDB's parquet_metadata() shows an infinite float statistic as NULL; anything else
    /// must match.
    static func sameStatistic(_ seen: Any?, _ expected: String?, _ type: DataType, _ reader: String) -> Bool {
        if reader == "duckdb", type == .float64, seen == nil || seen is NSNull,
           let e = expected.flatMap(UInt64.init).map(Double.init(bitPattern:)), e.isInfinite {
            return true
        }
        return same(seen ?? NSNull(), expected, type)
    }

    static func same(_ seen: Any, _ expected: String?, _ type: DataType) -> Bool {
        guard let expected else { return seen is NSNull }
        guard let text = seen as? String else { return false }
        if type == .float64 {
            if expected == "nan" { return text == "nan" }
            guard let d = Double(text) else { return false }
            return String(d.bitPattern) == expected
        }
        return text == expected
    }
}

/// min/max (canonical text) and NULL count of rows `range`, computed plainly from the values
/// written: the truth the files' statistics must state. NaN takes no part in min/max; a zero
/// minimum is -0.0 and a zero maximum +0.0, as the format asks.
struct TrueStatistics {
    var min: String?
    var max: String?
    var nullCount = 0

    init(_ column: Column, _ type: DataType, _ range: Range<Int>) {
        var present: [Int] = []
        for row in range { if column.isNull(row) { nullCount += 1 } else { present.append(row) } }
        func minMax<T>(_ v: [T], _ less: (T, T) -> Bool, _ text: (T) -> String) {
            guard var lo = present.first.map({ v[$0] }) else { return }
            var hi = lo
            for row in present {
                if less(v[row], lo) { lo = v[row] }
                if less(hi, v[row]) { hi = v[row] }
            }
            min = text(lo)
            max = text(hi)
        }
        switch column.values {
        case let .bool(v): minMax(v, { !$0 && $1 }) { $0 ? "true" : "false" }
        case let .int32(v): minMax(v, <) { String($0) }
        case let .int64(v): minMax(v, <) { String($0) }
        case let .date(v): minMax(v, <) { String($0) }
        case let .timestamp(v): minMax(v, <) { String($0) }
        case let .decimal(v): minMax(v, <) { String($0) }
        case let .string(s):
            let strings = (0..<s.count).map { Array(s.bytes[s.range($0)]) }
            minMax(strings, { $0.lexicographicallyPrecedes($1) }) { String(decoding: $0, as: UTF8.self) }
        case let .float64(v):
            present = present.filter { !v[$0].isNaN }
            minMax(v, <) { String($0.bitPattern) }
            if let lo = min.flatMap(UInt64.init).map(Double.init(bitPattern:)), lo == 0 { min = String((-0.0).bitPattern) }
            if let hi = max.flatMap(UInt64.init).map(Double.init(bitPattern:)), hi == 0 { max = String((0.0).bitPattern) }
        }
    }
}
