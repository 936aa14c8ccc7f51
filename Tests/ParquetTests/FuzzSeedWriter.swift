import ConnectorKit
import Foundation
@testable import Parquet
import Testing
import TestSupport

/// Writes the Parquet fuzzer's seeds (Tests/Fuzz/corpus/parquet) when asked:
/// `SLUICE_WRITE_PARQUET_SEEDS=1 swift test --filter FuzzSeedWriter`. Each is a small file of
/// every type in one codec, so the fuzzer starts from every page kind and codec.
@Suite(.blockingWork, .enabled(if: ProcessInfo.processInfo.environment["SLUICE_WRITE_PARQUET_SEEDS"] == "1", "writes fuzz seeds only when SLUICE_WRITE_PARQUET_SEEDS=1"))
struct FuzzSeedWriter {
    @Test func writeSeeds() throws {
        let folder = PythonReaders.packageRoot + "/Tests/Fuzz/corpus/parquet"
        for codec in ParquetWriterOptions.writableCodecs {
            for dictionary in [true, false] {
                var rng = SeededRandom(seed: 3)
                let fields = [Field("flag", .bool), Field("n", .int32, nullable: false), Field("label", .string), Field("ts", .timestamp),
                              Field("d", .decimal(precision: 20, scale: 2)), Field("x", .float64)]
                let columns = fields.map { TestData.column($0.type, rows: 12, nullEvery: $0.nullable ? 3 : 0, distinct: 3, rng: &rng) }
                var options = ParquetWriterOptions()
                options.codec = codec
                options.dictionary = dictionary
                options.rowGroupRows = 6
                let output = MemoryOutput()
                let writer = try ParquetFileWriter(output: output, schema: Schema(fields), options: options)
                try writer.write(columns: columns, rows: 0..<12)
                try writer.finish()
                try Data(output.bytes).write(to: URL(fileURLWithPath: "\(folder)/\(codec)-\(dictionary ? "dictionary" : "plain").parquet"))
            }
        }
    }
}
