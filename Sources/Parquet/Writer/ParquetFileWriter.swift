// A Parquet writer written for Sluice from the specification (apache/parquet-format:
// parquet.thrift, Encodings.md, LogicalTypes.md, Compression.md). It is hand-written because no
// Parquet library exists for Swift on this platform and Apache Arrow is not packaged in Debian 12.
// Flat schemas only (every Sluice schema is flat); data page v1; per chunk either a dictionary or
// PLAIN; no page index, no bloom filters.

import ConnectorKit
import Foundation

/// What a finished file holds.
public struct ParquetFileSummary: Sendable, Equatable {
    public var rows: Int64
    public var rowGroups: Int
    public var bytes: Int64
}

/// Writes one Parquet file: rows are buffered per row group, each full row group is encoded column
/// by column, and `finish` writes the footer.
///
/// With `backgroundEncoding` (the default) a full row group is encoded and written on a thread of
/// its own while the next one fills, so encoding overlaps with whatever produces the rows. Each
/// column's memory is given back as soon as its chunk is written, and buffers are flushed at half
/// of `rowGroupBytes`, so the two row groups together stay within one row group's size. The
/// thread ends with its row group; `finish` and deinit wait for it.
/// Owned by one task at a time (it holds compression contexts), hence not `Sendable`.
public final class ParquetFileWriter {
    public let schema: Schema
    public let options: ParquetWriterOptions
    private let output: any ParquetOutput
    private var buffers: [ColumnBuffer]
    private var encoder: RowGroupEncoder
    private var inFlight: BackgroundRowGroup?
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
        buffers = schema.fields.map { ColumnBuffer(field: $0, reservingRows: options.rowGroupRows) }
        encoder = RowGroupEncoder(options: options)
    }

    /// Rows buffered for the current row group.
    public var bufferedRows: Int { buffers[0].rows }

    /// PLAIN-encoded bytes buffered for the current row group.
    public var bufferedBytes: Int { buffers.reduce(0) { $0 + $1.plainSize + $1.definitionLevels.count / 8 } }

    deinit {
        _ = inFlight?.wait()
    }

    /// Buffered bytes at which a row group is written: half the target when two buffers exist.
    private var flushBytes: Int { options.backgroundEncoding ? max(1, options.rowGroupBytes / 2) : options.rowGroupBytes }

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
            if bufferedRows >= options.rowGroupRows || bufferedBytes >= flushBytes {
                try flushRowGroup()
            }
        }
    }

    /// Writes the buffered rows as a row group now (no-op when none); in the background when
    /// `backgroundEncoding` is on.
    public func flushRowGroup() throws(ParquetError) {
        guard bufferedRows > 0 else { return }
        try startIfNeeded()
        try joinBackgroundWork()
        guard rowGroups.count < Int(Int16.max) - 1 else { throw .invalidInput("more than \(Int16.max) row groups in one file") }
        guard options.backgroundEncoding else {
            rowGroups.append(try encoder.encode(&buffers, ordinal: rowGroups.count, to: output, keepMemory: true))
            return
        }
        let full = buffers
        buffers = schema.fields.map { ColumnBuffer(field: $0, reservingRows: options.rowGroupRows) }
        let job = BackgroundRowGroup(buffers: full, encoder: encoder, output: output, ordinal: rowGroups.count)
        // The job owns the encoder (its scratch arrays) until joined; a placeholder stands in, so
        // that no array is shared and copied on write.
        encoder = RowGroupEncoder(options: options)
        inFlight = job
        job.start()
    }

    /// Waits for the row group being encoded in the background, and takes its buffers back.
    private func joinBackgroundWork() throws(ParquetError) {
        guard let job = inFlight else { return }
        inFlight = nil
        let (result, returned) = job.wait()
        encoder = returned
        rowGroups.append(try result.get())
    }

    /// Writes the remaining rows and the footer. `metadata` is stored as key-value metadata
    /// beside the Sluice schema.
    @discardableResult
    public func finish(metadata: [KeyValue] = []) throws(ParquetError) -> ParquetFileSummary {
        guard !finished else { throw .invalidInput("the file is finished") }
        try flushRowGroup()
        try joinBackgroundWork()
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

/// One row group encoded on a thread of its own.
///
/// `@unchecked Sendable`: the writer hands `buffers`, `encoder` and `output` over before
/// `start` and touches none of them again until `wait` returns them; the condition (a pthread
/// mutex and condition variable, which ThreadSanitizer understands) orders the two threads'
/// accesses, so no state is used by both at once.
private final class BackgroundRowGroup: @unchecked Sendable {
    private var buffers: [ColumnBuffer]
    private var encoder: RowGroupEncoder
    private let output: any ParquetOutput
    private let ordinal: Int
    private var result: Result<RowGroup, ParquetError> = .failure(.invalidInput("the row group was not encoded"))
    private let condition = NSCondition()
    private var finished = false

    init(buffers: [ColumnBuffer], encoder: RowGroupEncoder, output: any ParquetOutput, ordinal: Int) {
        self.buffers = buffers
        self.encoder = encoder
        self.output = output
        self.ordinal = ordinal
    }

    func start() {
        let thread = Thread { [self] in
            result = Result { () throws(ParquetError) -> RowGroup in
                try encoder.encode(&buffers, ordinal: ordinal, to: output, keepMemory: false)
            }
            condition.lock()
            finished = true
            condition.signal()
            condition.unlock()
        }
        thread.name = "sluice-parquet-encode"
        thread.start()
    }

    /// Waits for the thread and returns the outcome and the encoder (its buffers are spent).
    func wait() -> (Result<RowGroup, ParquetError>, RowGroupEncoder) {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
        return (result, encoder)
    }
}
