import ConnectorKit
import Foundation
@testable import Parquet
import Testing

/// The reader refuses broken files with a `ParquetError` that says what is wrong: never a crash,
/// never rows that were not written.
struct MalformedFileTests {
    static func sampleFile(codec: CompressionCodec = .zstd) throws -> [UInt8] {
        var rng = SeededRandom(seed: 11)
        let fields = [Field("n", .int64, nullable: false), Field("label", .string), Field("amount", .decimal(precision: 12, scale: 2))]
        let columns = fields.map { TestData.column($0.type, rows: 40, nullEvery: $0.nullable ? 4 : 0, distinct: 3, rng: &rng) }
        var options = ParquetWriterOptions()
        options.codec = codec
        options.rowGroupRows = 25
        let output = MemoryOutput()
        let writer = try ParquetFileWriter(output: output, schema: Schema(fields), options: options)
        try writer.write(columns: columns, rows: 0..<40)
        try writer.finish()
        return output.bytes
    }

    /// Reads every row group; returns the error, or nil when the file reads.
    static func readAll(_ bytes: [UInt8]) -> ParquetError? {
        do {
            let reader = try ParquetFileReader(input: MemoryInput(bytes))
            for g in 0..<reader.rowGroupCount { _ = try reader.readRowGroup(g) }
            return nil
        } catch let e as ParquetError {
            return e
        } catch {
            Issue.record("not a ParquetError: \(error)")
            return nil
        }
    }

    @Test("every truncation is refused")
    func truncations() throws {
        let file = try Self.sampleFile()
        #expect(Self.readAll(file) == nil)
        for length in 0..<file.count {
            #expect(Self.readAll(Array(file[..<length])) != nil, "a file cut to \(length) of \(file.count) bytes was read")
        }
    }

    @Test("a flipped byte anywhere is an error or a file that still reads, never a crash", arguments: [CompressionCodec.zstd, .snappy, .gzip, .uncompressed])
    func flippedBytes(codec: CompressionCodec) throws {
        let file = try Self.sampleFile(codec: codec)
        var refused = 0
        for i in 0..<file.count {
            var damaged = file
            damaged[i] ^= 0xA5
            if Self.readAll(damaged) != nil { refused += 1 }
        }
        // Footer, headers, levels and magic are most of a small file: most flips must be caught.
        #expect(refused > file.count / 4)
    }

    @Test("clear messages for the usual breakages")
    func messages() throws {
        let file = try Self.sampleFile()
        #expect(Self.readAll(Array("PAR1".utf8)) == .malformed("4 bytes is too short for a Parquet file (at least 12)"))
        var notParquet = file
        notParquet[0] = UInt8(ascii: "X")
        #expect(Self.readAll(notParquet) == .malformed("the file does not start with PAR1"))
        #expect(Self.readAll(Array(file.dropLast(1))) == .malformed("the file does not end with PAR1 (is it still being written, or truncated?)"))
        var encrypted = file
        encrypted.replaceSubrange((file.count - 4)..., with: Array("PARE".utf8))
        #expect(Self.readAll(encrypted) == .unsupported("the footer is encrypted"))
        var longFooter = file
        longFooter.replaceSubrange((file.count - 8)..<(file.count - 4), with: [0xFF, 0xFF, 0, 0])
        #expect(Self.readAll(longFooter) == .malformed("footer length 65535 does not fit a file of \(file.count) bytes"))
    }

    @Test("a page that does not decompress names its row group, column and codec")
    func corruptPage() throws {
        let file = try Self.sampleFile(codec: .zstd)
        let reader = try ParquetFileReader(input: MemoryInput(file))
        let meta = reader.metadata.rowGroups[0].columns[1].metaData!
        // Damage the compressed body of the label column's first page (past its header).
        var damaged = file
        let start = Int(meta.chunkStart)
        for i in (start + 12)..<(start + 20) { damaged[i] ^= 0xFF }
        guard case let .malformed(message)? = Self.readAll(damaged) else {
            Issue.record("the damaged page was read")
            return
        }
        #expect(message.hasPrefix("row group 0 column 'label':"), "\(message)")
    }
}
