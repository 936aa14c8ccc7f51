// A Parquet writer written for Sluice from the specification (apache/parquet-format:
// parquet.thrift, Encodings.md, LogicalTypes.md, Compression.md). It is hand-written because no
// Parquet library exists for Swift on this platform and Apache Arrow is not packaged in Debian 12.
// Flat schemas only (every Sluice schema is flat); data page v1; per chunk either a dictionary or
// PLAIN; no page index, no bloom filters.

import ConnectorKit

/// What a finished file holds.
public struct ParquetFileSummary: Sendable, Equatable {
    public var rows: Int64
    public var rowGroups: Int
    public var bytes: Int64
}

/// Writes one Parquet file: rows are buffered per row group (memory is bounded by the row group
/// size), each full row group is encoded column by column, and `finish` writes the footer.
/// Owned by one task at a time (it holds compression contexts), hence not `Sendable`.
public final class ParquetFileWriter {
    public let schema: Schema
    public let options: ParquetWriterOptions
    private let output: any ParquetOutput
    private var buffers: [ColumnBuffer]
    private var chunkWriter: ColumnChunkWriter
    private var rowGroups: [RowGroup] = []
    private var started = false
    private var finished = false
    public private(set) var rowCount: Int64 = 0

    /// The metadata key under which the Sluice schema is stored (JSON).
    public static let schemaKey = "sluice.schema"

    public init(output: any ParquetOutput, schema: Schema, options: ParquetWriterOptions = ParquetWriterOptions()) throws(ParquetError) {
        try options.validate()
        guard !schema.fields.isEmpty else { throw .invalidInput("a Parquet file needs at least one column") }
        var seen = Set<String>()
        for f in schema.fields where !seen.insert(f.name).inserted {
            throw .invalidInput("column '\(f.name)' appears twice")
        }
        self.output = output
        self.schema = schema
        self.options = options
        buffers = schema.fields.map(ColumnBuffer.init(field:))
        chunkWriter = ColumnChunkWriter(options: options)
    }

    /// Rows buffered for the current row group.
    public var bufferedRows: Int { buffers[0].rows }

    /// PLAIN-encoded bytes buffered for the current row group.
    public var bufferedBytes: Int { buffers.reduce(0) { $0 + $1.plainSize + $1.definitionLevels.count / 8 } }

    /// Bytes written to the output so far (complete row groups).
    public var writtenBytes: Int64 { output.position }

    /// Appends every row of `batch`, whose schema must equal the writer's (names and types).
    public func write(_ batch: RecordBatch) throws(ParquetError) {
        guard batch.schema.fields.map({ [$0.name, $0.type.description] }) == schema.fields.map({ [$0.name, $0.type.description] }) else {
            throw .invalidInput("batch schema (\(batch.schema.fields.map { "\($0.name) \($0.type)" }.joined(separator: ", "))) differs from the file's")
        }
        try write(columns: batch.columns, rows: 0..<batch.count)
    }

    /// Appends `rows` of `columns` (one per schema field, in order).
    public func write(columns: [Column], rows: Range<Int>) throws(ParquetError) {
        guard !finished else { throw .invalidInput("the file is finished") }
        guard columns.count == buffers.count else { throw .invalidInput("\(columns.count) columns for \(buffers.count) fields") }
        var start = rows.lowerBound
        while start < rows.upperBound {
            let room = options.rowGroupRows - bufferedRows
            let end = min(rows.upperBound, start + room)
            for i in buffers.indices { try buffers[i].append(columns[i], rows: start..<end) }
            rowCount += Int64(end - start)
            start = end
            if bufferedRows >= options.rowGroupRows || bufferedBytes >= options.rowGroupBytes {
                try flushRowGroup()
            }
        }
    }

    /// Writes the buffered rows as a row group now (no-op when none).
    public func flushRowGroup() throws(ParquetError) {
        guard bufferedRows > 0 else { return }
        try startIfNeeded()
        let start = output.position
        var chunks: [ColumnChunk] = []
        var uncompressed: Int64 = 0
        var compressed: Int64 = 0
        for i in buffers.indices {
            let chunk = try chunkWriter.write(buffers[i], to: output)
            uncompressed += chunk.metaData!.totalUncompressedSize
            compressed += chunk.metaData!.totalCompressedSize
            chunks.append(chunk)
            buffers[i].removeAll()
        }
        guard rowGroups.count < Int(Int16.max) else { throw .invalidInput("more than \(Int16.max) row groups in one file") }
        rowGroups.append(RowGroup(columns: chunks, totalByteSize: uncompressed, numRows: Int64(chunks[0].metaData!.numValues),
                                  fileOffset: start, totalCompressedSize: compressed, ordinal: Int16(rowGroups.count)))
    }

    /// Writes the remaining rows and the footer. `metadata` is stored as key-value metadata
    /// beside the Sluice schema.
    @discardableResult
    public func finish(metadata: [KeyValue] = []) throws(ParquetError) -> ParquetFileSummary {
        guard !finished else { throw .invalidInput("the file is finished") }
        try flushRowGroup()
        try startIfNeeded()
        finished = true
        var elements = [SchemaElement(name: "schema")]
        elements[0].numChildren = Int32(schema.count)
        elements += buffers.map(\.element)
        var keyValues = [KeyValue(key: Self.schemaKey, value: SluiceSchemaJSON.encode(schema))]
        keyValues += metadata.filter { $0.key != Self.schemaKey }
        let meta = FileMetaData(version: 1, schema: elements, numRows: rowCount, rowGroups: rowGroups,
                                keyValueMetadata: keyValues, createdBy: options.createdBy,
                                columnOrders: Array(repeating: .typeDefined, count: schema.count))
        let footer = meta.encoded()
        try output.write(footer)
        var tail: [UInt8] = []
        Plain.append(UInt32(footer.count), to: &tail)
        tail += Array("PAR1".utf8)
        try output.write(tail)
        return ParquetFileSummary(rows: rowCount, rowGroups: rowGroups.count, bytes: output.position)
    }

    private func startIfNeeded() throws(ParquetError) {
        guard !started else { return }
        started = true
        try output.write(Array("PAR1".utf8))
    }
}
