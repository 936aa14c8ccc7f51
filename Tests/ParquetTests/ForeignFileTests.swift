import ConnectorKit
import Foundation
@testable import Parquet
import Testing
import TestSupport

/// Sluice's reader on files it did not write: pyarrow (dictionary and PLAIN, data pages v1 and
/// v2, snappy, zstd, gzip, none) and DuckDB (snappy, zstd, none), every value compared with what
/// the writers were given.
@Suite(.blockingWork, .enabled(if: PythonReaders.enabled, "no Python with pyarrow and duckdb: run scripts/py-env.sh (under CI this suite always runs)"))
struct ForeignFileTests {
    @Test("files written by pyarrow and DuckDB read back exactly")
    func readsForeignFiles() throws {
        let folder = TestCleanup.removeAtExit(NSTemporaryDirectory() + "sluice-test-parquet-foreign-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PythonReaders.python)
        process.arguments = [PythonReaders.packageRoot + "/Tests/ParquetTests/Readers/write_parquet.py", folder]
        let out = ProcessLaunch.pipe()
        process.standardOutput = out
        try ProcessLaunch.run(process)
        let listing = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let paths = listing.split(separator: "\n").map(String.init)
        #expect(paths.count == 7)
        for path in paths {
            let expectedURL = URL(fileURLWithPath: String(path.dropLast(".parquet".count)) + ".json")
            let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: expectedURL)) as! [String: Any]
            let fields = (expected["schema"] as! [[String: String]]).map { Field($0["name"]!, DataType(parsing: $0["type"]!)!) }
            let values = expected["columns"] as! [String: [Any]]
            let reader = try ParquetFileReader(path: path)
            #expect(reader.schema.fields.map { "\($0.name) \($0.type)" } == fields.map { "\($0.name) \($0.type)" }, "\(path)")
            var row = 0
            var problems: [String] = []
            for g in 0..<reader.rowGroupCount {
                let columns = try reader.readRowGroup(g)
                for (c, field) in fields.enumerated() {
                    for r in 0..<columns[c].count {
                        let seen = TestData.canonical(columns[c], field.type, r)
                        let want = values[field.name]![row + r]
                        // The JSON holds Python's canonical text; compare through the same rules.
                        let same = WrittenFile.same(want, seen == nil ? nil : seen!, field.type)
                            || (field.type == .float64 && seen != nil && (want as? String).flatMap(Double.init).map { String($0.bitPattern) } == seen)
                        if !same, problems.count < 5 { problems.append("\(field.name)[\(row + r)]: read \(seen ?? "NULL"), written \(want)") }
                    }
                }
                row += columns.first?.count ?? 0
            }
            #expect(row == 5000, "\(path)")
            #expect(problems.isEmpty, "\((path as NSString).lastPathComponent): \(problems.joined(separator: "; "))")
        }
    }
}
