/// Where a record came from: enough to find it again by hand and to write a useful dead letter.
public struct RecordOrigin: Sendable, Hashable, Codable {
    /// Path of the source file as the source names it (relative to the source root), or a stream name.
    public var file: String
    /// 1-based physical line where the record starts.
    public var line: Int64
    /// Byte offset in the source file where the record starts.
    public var byteOffset: Int64

    public init(file: String, line: Int64, byteOffset: Int64) {
        self.file = file
        self.line = line
        self.byteOffset = byteOffset
    }
}

/// Per-row provenance of a batch. Batches never span files, so the file is stored once.
public struct RecordOrigins: Sendable, Equatable {
    public var file: String
    public var lines: [Int64]
    public var byteOffsets: [Int64]
    /// The record's raw bytes as read (original encoding), for dead letters. May be empty
    /// for sources that have no raw form.
    public var raw: RawRecords?
    /// The text encoding of `raw`, by its pipeline-file name (e.g. `"windows-1252"`).
    public var rawEncoding: String

    public init(file: String, lines: [Int64] = [], byteOffsets: [Int64] = [], raw: RawRecords? = nil, rawEncoding: String = "utf-8") {
        self.file = file
        self.lines = lines
        self.byteOffsets = byteOffsets
        self.raw = raw
        self.rawEncoding = rawEncoding
    }

    public func origin(_ row: Int) -> RecordOrigin {
        RecordOrigin(file: file, line: row < lines.count ? lines[row] : 0, byteOffset: row < byteOffsets.count ? byteOffsets[row] : -1)
    }

    public func rawBytes(_ row: Int) -> [UInt8] {
        guard let raw, row < raw.count else { return [] }
        return raw.bytes(row)
    }
}

/// A columnar batch of records that share a schema and a source file.
///
/// Batches hold a few thousand rows; both heavy sinks are columnar (Parquet column chunks,
/// PostgreSQL binary COPY written from columns), and casts run column by column.
public struct RecordBatch: Sendable, Equatable {
    public var schema: Schema
    public var columns: [Column]
    public var origins: RecordOrigins

    public init(schema: Schema, columns: [Column], origins: RecordOrigins) {
        precondition(schema.count == columns.count, "schema has \(schema.count) fields but \(columns.count) columns")
        self.schema = schema
        self.columns = columns
        self.origins = origins
    }

    public var count: Int { columns.first?.count ?? origins.lines.count }
    public var isEmpty: Bool { count == 0 }

    public func column(named name: String) -> Column? {
        schema.index(of: name).map { columns[$0] }
    }

    /// The rows where `keep[i]` is true, in order.
    public func filter(_ keep: [Bool]) -> RecordBatch {
        if keep.allSatisfy({ $0 }) { return self }
        let rows = keep.indices.filter { keep[$0] }
        return select(rows)
    }

    /// The given rows, in the given order.
    public func select(_ rows: [Int]) -> RecordBatch {
        var o = RecordOrigins(file: origins.file, rawEncoding: origins.rawEncoding)
        o.lines = rows.map { origins.lines[$0] }
        o.byteOffsets = rows.map { origins.byteOffsets[$0] }
        o.raw = origins.raw?.select(rows)
        return RecordBatch(schema: schema, columns: columns.map { $0.select(rows) }, origins: o)
    }
}

extension Column {
    /// The given rows, in the given order.
    public func select(_ rows: [Int]) -> Column {
        let v: ColumnValues
        switch values {
        case let .bool(a): v = .bool(rows.map { a[$0] })
        case let .int32(a): v = .int32(rows.map { a[$0] })
        case let .int64(a): v = .int64(rows.map { a[$0] })
        case let .float64(a): v = .float64(rows.map { a[$0] })
        case let .decimal(a): v = .decimal(rows.map { a[$0] })
        case let .date(a): v = .date(rows.map { a[$0] })
        case let .timestamp(a): v = .timestamp(rows.map { a[$0] })
        case let .string(s):
            var out = StringColumn(reservingRows: rows.count, bytes: 0)
            s.bytes.withUnsafeBytes { all in
                for i in rows { out.append(UnsafeRawBufferPointer(rebasing: all[s.range(i)])) }
            }
            v = .string(out)
        }
        return Column(v, validity: validity.map { val in rows.map { val[$0] } })
    }
}
