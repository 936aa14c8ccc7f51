import ConnectorKit
import Foundation
@testable import Parquet
import Testing
import TestSupport

/// Files written by Sluice, read by pyarrow, DuckDB and fastparquet (and by Sluice's own reader):
/// every value must come back exactly, and the statistics must state the true min, max and NULL
/// count of each row group.
@Suite(.blockingWork, .enabled(if: PythonReaders.enabled, "no Python with pyarrow, duckdb and fastparquet: run scripts/py-env.sh (under CI this suite always runs)"))
struct InteropTests {
    let folder = TestCleanup.removeAtExit(NSTemporaryDirectory() + "sluice-test-parquet-\(UUID().uuidString.prefix(8))")

    init() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    static let everyType: [Field] = [
        Field("flag", .bool), Field("small", .int32), Field("count", .int32, nullable: false), Field("big", .int64),
        Field("ratio", .float64), Field("label", .string), Field("note", .string), Field("day", .date), Field("ts", .timestamp),
        Field("price", .decimal(precision: 9, scale: 2)), Field("amount", .decimal(precision: 18, scale: 4)),
        Field("wide", .decimal(precision: 20, scale: 0)), Field("huge", .decimal(precision: 38, scale: 10)),
    ]

    func write(_ name: String, _ fields: [Field], _ columns: [Column], options: ParquetWriterOptions, batchRows: Int = 700) throws -> WrittenFile {
        let path = folder + "/" + name + ".parquet"
        let output = try FileOutput(creating: path)
        let writer = try ParquetFileWriter(output: output, schema: Schema(fields), options: options)
        let rows = columns.first?.count ?? 0
        var start = 0
        repeat {
            let end = min(rows, start + batchRows)
            try writer.write(columns: columns, rows: start..<end)
            start = end
        } while start < rows
        try writer.finish(metadata: [KeyValue(key: "test.case", value: name)])
        try output.close()
        return WrittenFile(path: path, schema: Schema(fields), columns: columns, rowGroupRows: options.rowGroupRows)
    }

    func everyTypeColumns(rows: Int, seed: UInt64, nullEvery: Int = 5) -> [Column] {
        var rng = SeededRandom(seed: seed)
        return Self.everyType.map { f in
            let distinct: Int? = f.name == "small" ? 11 : f.name == "label" ? 8 : nil
            return TestData.column(f.type, rows: rows, nullEvery: f.nullable ? nullEvery : 0, distinct: distinct, rng: &rng)
        }
    }

    /// Reads each file with the three readers and with Sluice's, and collects every difference.
    func check(_ files: [WrittenFile], statistics: Bool = true, readers: [String] = PythonReaders.readerNames) throws {
        let seen = try PythonReaders.read(files.map(\.path))
        var problems: [String] = []
        for file in files {
            for reader in readers {
                guard let result = seen[file.path]?[reader] else { problems.append("\(file.path): \(reader) returned nothing"); continue }
                problems += file.differences(result, reader: reader, checkStatistics: statistics && reader != "fastparquet")
                    .map { "\((file.path as NSString).lastPathComponent): \($0)" }
            }
            problems += try ownReaderDifferences(file)
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    func ownReaderDifferences(_ file: WrittenFile) throws -> [String] {
        let reader = try ParquetFileReader(path: file.path)
        var problems: [String] = []
        if reader.schema != file.schema { problems.append("sluice reader: schema \(reader.schema), written \(file.schema)") }
        if reader.storedSluiceSchema != file.schema { problems.append("sluice reader: stored schema differs") }
        var row = 0
        for g in 0..<reader.rowGroupCount {
            let columns = try reader.readRowGroup(g)
            for (c, field) in file.schema.fields.enumerated() {
                for r in 0..<columns[c].count where TestData.canonical(columns[c], field.type, r) != TestData.canonical(file.columns[c], field.type, row + r) {
                    problems.append("sluice reader: \(field.name)[\(row + r)] differs")
                    break
                }
            }
            row += columns.first?.count ?? 0
        }
        if row != file.rows { problems.append("sluice reader: \(row) rows, \(file.rows) written") }
        return problems
    }

    @Test("every type, every codec, many row groups and pages, NULLs in every position")
    func everyTypeEveryCodec() throws {
        var files: [WrittenFile] = []
        for (i, codec) in ParquetWriterOptions.writableCodecs.enumerated() {
            var options = ParquetWriterOptions()
            options.codec = codec
            options.rowGroupRows = 1000
            options.pageBytes = 1500
            files.append(try write("types-\(codec)", Self.everyType, everyTypeColumns(rows: 3100, seed: UInt64(i + 1)), options: options))
        }
        try check(files)
    }

    @Test("dictionary and PLAIN chunks both written, each chunk one or the other")
    func dictionaryAndPlain() throws {
        var options = ParquetWriterOptions()
        options.rowGroupRows = 5000
        let file = try write("dictionary", Self.everyType, everyTypeColumns(rows: 5000, seed: 42), options: options)
        try check([file])
        let meta = try ParquetFileReader(path: file.path).metadata
        let encodings = Dictionary(uniqueKeysWithValues: zip(Self.everyType.map(\.name), meta.rowGroups[0].columns.map { $0.metaData!.encodings }))
        #expect(encodings["label"]!.contains(.rleDictionary))
        #expect(encodings["small"]!.contains(.rleDictionary))
        #expect(!encodings["note"]!.contains(.rleDictionary))
        #expect(!encodings["big"]!.contains(.rleDictionary))
        #expect(meta.rowGroups[0].columns.allSatisfy { ($0.metaData!.dictionaryPageOffset != nil) == $0.metaData!.encodings.contains(.rleDictionary) })
    }

    @Test("all-NULL columns, columns without NULLs, required columns, one-row and empty files")
    func nullShapes() throws {
        let fields = [Field("none", .int64), Field("text_none", .string), Field("dec_none", .decimal(precision: 30, scale: 3)),
                      Field("full", .float64), Field("required", .string, nullable: false)]
        var rng = SeededRandom(seed: 7)
        let rows = 2500
        let columns = [TestData.allNull(.int64, rows: rows), TestData.allNull(.string, rows: rows), TestData.allNull(.decimal(precision: 30, scale: 3), rows: rows),
                       TestData.column(.float64, rows: rows, nullEvery: 0, rng: &rng), TestData.column(.string, rows: rows, nullEvery: 0, rng: &rng)]
        var options = ParquetWriterOptions()
        options.rowGroupRows = 1000
        let shapes = try write("null-shapes", fields, columns, options: options)
        let oneRow = try write("one-row", Self.everyType, everyTypeColumns(rows: 1, seed: 9, nullEvery: 0), options: ParquetWriterOptions())
        let empty = try write("empty", Self.everyType, everyTypeColumns(rows: 0, seed: 9), options: ParquetWriterOptions())
        try check([shapes, oneRow, empty])
    }

    @Test("100 KiB strings, across pages")
    func hugeStrings() throws {
        let big = (0..<6).map { i in String(repeating: "Zeile \(i) äöü 日本 ", count: 100 * 1024 / 20) }
        let column = Column(.string(StringColumn(big)), validity: [true, false, true, true, false, true])
        var options = ParquetWriterOptions()
        options.pageBytes = 64 * 1024
        options.codec = .snappy
        let file = try write("huge-strings", [Field("text", .string)], [column], options: options)
        try check([file])
    }

    @Test("NaN is stored and left out of min/max")
    func notANumber() throws {
        let values: [Double] = [.nan, 1.5, -2.25, .nan, 0.0, 7]
        let file = try write("nan", [Field("x", .float64, nullable: false)], [Column(.float64(values))], options: ParquetWriterOptions())
        // pandas, under fastparquet, cannot tell NaN from NULL; the other two can.
        try check([file], readers: ["pyarrow", "duckdb"])
    }
}
