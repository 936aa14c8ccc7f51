import CompressionCodecs
import ConnectorKit

/// Bounds on what a file may make the reader allocate, so a hostile or corrupt file is an error
/// rather than an out-of-memory kill.
public struct ParquetReaderLimits: Sendable {
    public var maxFooterBytes = 64 << 20
    public var maxPageBytes = 1 << 30
    public var maxRowGroupRows: Int64 = 1 << 28

    public init() {}

    /// Small bounds for fuzzing.
    public static var fuzzing: ParquetReaderLimits {
        var l = ParquetReaderLimits()
        l.maxFooterBytes = 1 << 20
        l.maxPageBytes = 16 << 20
        l.maxRowGroupRows = 1 << 20
        return l
    }
}

/// Reads flat Parquet files: everything Sluice writes, and files from pyarrow, DuckDB and others
/// that use PLAIN, dictionary (PLAIN_DICTIONARY / RLE_DICTIONARY) and RLE-boolean encodings in
/// data pages v1 or v2, uncompressed or compressed with snappy, gzip or zstd.
public final class ParquetFileReader {
    public let metadata: FileMetaData
    /// The Sluice view of the columns.
    public let schema: Schema
    /// The leaf schema elements, one per column.
    public let leaves: [SchemaElement]
    private let input: any ParquetInput
    private let limits: ParquetReaderLimits
    private var codecs: [CompressionCodec: any BlockCodec] = [:]
    /// Where column data may lie: after the leading magic, before the footer.
    private let dataEnd: Int64

    public convenience init(path: String, limits: ParquetReaderLimits = ParquetReaderLimits()) throws(ParquetError) {
        try self.init(input: try FileInput(path: path), limits: limits)
    }

    public init(input: any ParquetInput, limits: ParquetReaderLimits = ParquetReaderLimits()) throws(ParquetError) {
        self.input = input
        self.limits = limits
        let size = input.size
        guard size >= 12 else { throw .malformed("\(size) bytes is too short for a Parquet file (at least 12)") }
        let head = try input.read(offset: 0, count: 4)
        let tail = try input.read(offset: size - 8, count: 8)
        if Array(tail[4...]) == Array("PARE".utf8) { throw .unsupported("the footer is encrypted") }
        guard head == Array("PAR1".utf8) else { throw .malformed("the file does not start with PAR1") }
        guard Array(tail[4...]) == Array("PAR1".utf8) else { throw .malformed("the file does not end with PAR1 (is it still being written, or truncated?)") }
        let footerLength = Int64(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard footerLength > 0, footerLength <= size - 12 else { throw .malformed("footer length \(footerLength) does not fit a file of \(size) bytes") }
        guard footerLength <= limits.maxFooterBytes else { throw .unsupported("footer of \(footerLength) bytes exceeds the \(limits.maxFooterBytes)-byte limit") }
        let footer = try input.read(offset: size - 8 - footerLength, count: Int(footerLength))
        metadata = try withRawBytes(footer) { (raw: UnsafeRawBufferPointer) throws(ParquetError) in try FileMetaData.decode(raw) }
        dataEnd = size - 8 - footerLength
        guard !metadata.isEncrypted else { throw .unsupported("the file is encrypted") }
        (leaves, schema) = try Self.flatSchema(metadata.schema)
        try validateRowGroups()
    }

    public var rowGroupCount: Int { metadata.rowGroups.count }

    /// The Sluice schema stored by Sluice's writer, if the file has one.
    public var storedSluiceSchema: Schema? {
        metadata.value(forKey: ParquetFileWriter.schemaKey).flatMap(SluiceSchemaJSON.decode)
    }

    private static func flatSchema(_ elements: [SchemaElement]) throws(ParquetError) -> ([SchemaElement], Schema) {
        guard let root = elements.first else { throw .malformed("the schema is empty") }
        let children = Int(root.numChildren ?? 0)
        guard children >= 1, elements.count >= 2 else { throw .malformed("the schema has no columns") }
        let leaves = Array(elements.dropFirst())
        guard leaves.count == children else {
            if leaves.contains(where: { $0.numChildren ?? 0 > 0 }) { throw .unsupported("nested columns (groups, lists, maps) are not read") }
            throw .malformed("the root declares \(children) columns but \(leaves.count) follow")
        }
        var fields: [Field] = []
        var names = Set<String>()
        for e in leaves {
            if e.numChildren ?? 0 > 0 || e.type == nil { throw .unsupported("column '\(e.name)' is a group: nested columns are not read") }
            if e.repetition == .repeated { throw .unsupported("column '\(e.name)' is repeated: nested columns are not read") }
            guard names.insert(e.name).inserted else { throw .malformed("column '\(e.name)' appears twice") }
            if e.type == .fixedLenByteArray {
                guard let w = e.typeLength, w > 0 else { throw .malformed("column '\(e.name)' is FIXED_LEN_BYTE_ARRAY without a length") }
            }
            fields.append(Field(e.name, try TypeMapping.dataType(of: e), nullable: e.repetition != .required))
        }
        return (leaves, Schema(fields))
    }

    private func validateRowGroups() throws(ParquetError) {
        var total: Int64 = 0
        for (g, group) in metadata.rowGroups.enumerated() {
            guard group.numRows >= 0, group.numRows <= limits.maxRowGroupRows else {
                throw .malformed("row group \(g) claims \(group.numRows) rows (limit \(limits.maxRowGroupRows))")
            }
            guard group.columns.count == leaves.count else {
                throw .malformed("row group \(g) has \(group.columns.count) column chunks for \(leaves.count) columns")
            }
            for (c, chunk) in group.columns.enumerated() {
                guard chunk.filePath == nil else { throw .unsupported("column chunks in other files (file_path)") }
                guard let meta = chunk.metaData else { throw .malformed("row group \(g) column \(c) has no metadata") }
                guard meta.type == leaves[c].type else {
                    throw .malformed("row group \(g) column '\(leaves[c].name)' is \(meta.type) but the schema says \(leaves[c].type!)")
                }
                let start = meta.chunkStart
                guard start >= 4, meta.totalCompressedSize >= 0, meta.totalCompressedSize <= dataEnd - start else {
                    throw .malformed("row group \(g) column '\(leaves[c].name)' lies outside the data (offset \(start), \(meta.totalCompressedSize) bytes)")
                }
                guard meta.numValues == group.numRows else {
                    throw .malformed("row group \(g) column '\(leaves[c].name)' has \(meta.numValues) values for \(group.numRows) rows")
                }
            }
            total += group.numRows
        }
        guard total == metadata.numRows else { throw .malformed("row groups hold \(total) rows, the footer says \(metadata.numRows)") }
    }

    /// The columns of row group `index`, as Sluice columns (NULLs in `validity`).
    public func readRowGroup(_ index: Int) throws(ParquetError) -> [Column] {
        guard metadata.rowGroups.indices.contains(index) else { throw .invalidInput("row group \(index) does not exist") }
        let group = metadata.rowGroups[index]
        var columns: [Column] = []
        for (c, chunk) in group.columns.enumerated() {
            do {
                columns.append(try readChunk(chunk.metaData!, leaf: leaves[c], field: schema.fields[c], rows: Int(group.numRows)))
            } catch let ParquetError.malformed(m) {
                throw .malformed("row group \(index) column '\(leaves[c].name)': \(m)")
            } catch let ParquetError.unsupported(m) {
                throw .unsupported("row group \(index) column '\(leaves[c].name)': \(m)")
            }
        }
        return columns
    }

    /// Row group `index` as a batch whose origins name `file`.
    public func readBatch(_ index: Int, file: String = "") throws(ParquetError) -> RecordBatch {
        let columns = try readRowGroup(index)
        return RecordBatch(schema: schema, columns: columns, origins: RecordOrigins(file: file))
    }

    // MARK: Column chunks

    private func codec(_ kind: CompressionCodec) throws(ParquetError) -> any BlockCodec {
        if let c = codecs[kind] { return c }
        guard ParquetWriterOptions.writableCodecs.contains(kind) else { throw .unsupported("codec \(kind)") }
        let c = ParquetWriterOptions.codec(kind)
        codecs[kind] = c
        return c
    }

    private func readChunk(_ meta: ColumnMetaData, leaf: SchemaElement, field: Field, rows: Int) throws(ParquetError) -> Column {
        let bytes = try input.read(offset: meta.chunkStart, count: Int(meta.totalCompressedSize))
        let codec = try codec(meta.codec)
        let optional = leaf.repetition != .required
        var decoder = ChunkDecoder(leaf: leaf, field: field, rows: rows)
        try withRawBytes(bytes) { (chunk: UnsafeRawBufferPointer) throws(ParquetError) in
            var position = 0
            while decoder.rowsRead < rows {
                guard position < chunk.count else { throw .malformed("the chunk ends after \(decoder.rowsRead) of \(rows) values") }
                let (header, bodyStart) = try PageHeader.decode(chunk, at: position)
                let compressedSize = Int(header.compressedPageSize)
                guard compressedSize <= chunk.count - bodyStart else { throw .malformed("page at chunk byte \(position) runs past the chunk") }
                guard Int(header.uncompressedPageSize) <= limits.maxPageBytes else {
                    throw .unsupported("page of \(header.uncompressedPageSize) bytes exceeds the \(limits.maxPageBytes)-byte limit")
                }
                let body = UnsafeRawBufferPointer(rebasing: chunk[bodyStart..<(bodyStart + compressedSize)])
                position = bodyStart + compressedSize
                switch header.type {
                case .dictionaryPage:
                    guard let h = header.dictionaryPageHeader else { throw .malformed("dictionary page without its header") }
                    let page = try decompress(body, header: header, codec: codec, kind: meta.codec)
                    try withRawBytes(page) { (raw: UnsafeRawBufferPointer) throws(ParquetError) in try decoder.readDictionary(raw, header: h) }
                case .dataPage:
                    guard let h = header.dataPageHeader else { throw .malformed("data page without its header") }
                    let page = try decompress(body, header: header, codec: codec, kind: meta.codec)
                    try withRawBytes(page) { (raw: UnsafeRawBufferPointer) throws(ParquetError) in
                        try decoder.readDataPage(raw, values: Int(h.numValues), encoding: h.encoding, optional: optional)
                    }
                case .dataPageV2:
                    guard let h = header.dataPageHeaderV2 else { throw .malformed("data page v2 without its header") }
                    let levelBytes = Int(h.definitionLevelsByteLength) + Int(h.repetitionLevelsByteLength)
                    guard h.definitionLevelsByteLength >= 0, h.repetitionLevelsByteLength >= 0, levelBytes <= body.count,
                          levelBytes <= Int(header.uncompressedPageSize) else {
                        throw .malformed("data page v2 level lengths exceed the page")
                    }
                    guard h.repetitionLevelsByteLength == 0 else { throw .unsupported("repetition levels (nested columns)") }
                    var page = Array(body[0..<levelBytes])
                    let rest = UnsafeRawBufferPointer(rebasing: body[levelBytes...])
                    if h.isCompressed && meta.codec != .uncompressed {
                        do {
                            page += try codec.decompress(rest, expectedSize: Int(header.uncompressedPageSize) - levelBytes)
                        } catch {
                            throw .malformed("page does not decompress: \(error)")
                        }
                    } else {
                        page += Array(rest)
                    }
                    try withRawBytes(page) { (raw: UnsafeRawBufferPointer) throws(ParquetError) in
                        try decoder.readDataPageV2(raw, values: Int(h.numValues), nulls: Int(h.numNulls), levelBytes: Int(h.definitionLevelsByteLength),
                                                   encoding: h.encoding, optional: optional)
                    }
                case .indexPage:
                    continue
                }
            }
        }
        return try decoder.finish()
    }

    private func decompress(_ body: UnsafeRawBufferPointer, header: PageHeader, codec: any BlockCodec, kind: CompressionCodec) throws(ParquetError) -> [UInt8] {
        do {
            return try codec.decompress(body, expectedSize: Int(header.uncompressedPageSize))
        } catch {
            throw .malformed("page does not decompress (\(kind)): \(error)")
        }
    }
}
