import ConnectorKit
import Foundation
@testable import Parquet
import Testing

/// Encoding on other threads (row groups in the background, column chunks on two threads) changes
/// when the work happens, never the file: the bytes equal those of the plain single-threaded path.
struct WriterThreadingTests {
    func file(background: Bool, threads: Int, rows: Int = 20_000) throws -> [UInt8] {
        var rng = SeededRandom(seed: 5)
        let fields = InteropTests.everyType
        let columns = fields.map { f in
            TestData.column(f.type, rows: rows, nullEvery: f.nullable ? 6 : 0, distinct: f.name == "label" ? 5 : nil, rng: &rng)
        }
        var options = ParquetWriterOptions()
        options.rowGroupRows = 3000
        options.pageBytes = 4096
        options.backgroundEncoding = background
        options.encodingThreads = threads
        let output = MemoryOutput()
        let writer = try ParquetFileWriter(output: output, schema: Schema(fields), options: options)
        var start = 0
        while start < rows {
            let end = min(rows, start + 1234)
            try writer.write(columns: columns, rows: start..<end)
            start = end
        }
        try writer.finish()
        return output.bytes
    }

    @Test("background row groups and two encoding threads write the same bytes as one thread")
    func sameBytes() throws {
        let plain = try file(background: false, threads: 1)
        #expect(try file(background: true, threads: 1) == plain)
        #expect(try file(background: false, threads: 2) == plain)
        #expect(try file(background: true, threads: 2) == plain)
        let reader = try ParquetFileReader(input: MemoryInput(plain))
        #expect(reader.rowGroupCount == 7)
        // Row groups follow each other: each starts where the previous one's chunks end.
        var expected: Int64 = 4
        for g in reader.metadata.rowGroups {
            #expect(g.fileOffset == expected)
            #expect(g.columns.first?.metaData?.chunkStart == expected)
            expected += g.totalCompressedSize ?? 0
        }
    }
}
