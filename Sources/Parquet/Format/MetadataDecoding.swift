// Decoding of the footer and page headers from untrusted bytes. Unknown fields are skipped;
// missing required fields and out-of-range enum values are errors naming the structure.

private typealias Reader = ThriftCompactReader
private typealias Field = ThriftCompactReader.FieldHeader

private func enumValue<E: RawRepresentable>(_ r: inout Reader, _ f: Field, _ what: String) throws(ParquetError) -> E where E.RawValue == Int32 {
    let raw = try r.readI32(f.type)
    guard let value = E(rawValue: raw) else { throw .malformed("\(what) has unknown value \(raw)") }
    return value
}

private func required<T>(_ value: T?, _ what: String) throws(ParquetError) -> T {
    guard let value else { throw .malformed("\(what) is missing") }
    return value
}

extension FileMetaData {
    /// Decodes the footer (the bytes between the data and the 4-byte footer length).
    static func decode(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) -> FileMetaData {
        var r = Reader(bytes)
        var version: Int32?, schema: [SchemaElement]?, numRows: Int64?, rowGroups: [RowGroup]?
        var keyValues: [KeyValue]?, createdBy: String?, orders: [ColumnOrder]?, encrypted = false
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: version = try r.readI32(f.type)
            case 2: schema = try r.readList { (r: inout Reader, _: ThriftType) throws(ParquetError) in try SchemaElement.decode(&r) }
            case 3: numRows = try r.readI64(f.type)
            case 4: rowGroups = try r.readList { (r: inout Reader, _: ThriftType) throws(ParquetError) in try RowGroup.decode(&r) }
            case 5: keyValues = try r.readList { (r: inout Reader, _: ThriftType) throws(ParquetError) in try KeyValue.decode(&r) }
            case 6: createdBy = try r.readString(f.type)
            case 7: orders = try r.readList { (r: inout Reader, _: ThriftType) throws(ParquetError) in
                var order = ColumnOrder.other(0)
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    order = f.id == 1 ? .typeDefined : .other(f.id)
                    try r.skip(f.type)
                }
                return order
            }
            case 8: encrypted = true; try r.skip(f.type)
            default: try r.skip(f.type)
            }
        }
        var meta = FileMetaData(version: try required(version, "FileMetaData.version"), schema: try required(schema, "FileMetaData.schema"),
                                numRows: try required(numRows, "FileMetaData.num_rows"), rowGroups: try required(rowGroups, "FileMetaData.row_groups"),
                                keyValueMetadata: keyValues, createdBy: createdBy, columnOrders: orders)
        meta.isEncrypted = encrypted
        return meta
    }
}

extension SchemaElement {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> SchemaElement {
        var e = SchemaElement(name: "")
        var name: String?
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: e.type = try enumValue(&r, f, "SchemaElement.type")
            case 2: e.typeLength = try r.readI32(f.type)
            case 3: e.repetition = try enumValue(&r, f, "SchemaElement.repetition_type")
            case 4: name = try r.readString(f.type)
            case 5: e.numChildren = try r.readI32(f.type)
            case 6:
                // Unknown converted types are kept out rather than refused: the logical type decides.
                let raw = try r.readI32(f.type)
                e.convertedType = ConvertedType(rawValue: raw)
            case 7: e.scale = try r.readI32(f.type)
            case 8: e.precision = try r.readI32(f.type)
            case 9: e.fieldID = try r.readI32(f.type)
            case 10: e.logicalType = try LogicalType.decode(&r)
            default: try r.skip(f.type)
            }
        }
        e.name = try required(name, "SchemaElement.name")
        return e
    }
}

extension LogicalType {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> LogicalType? {
        var result: LogicalType?
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: result = .string; try r.skip(f.type)
            case 4: result = .enumeration; try r.skip(f.type)
            case 5:
                var scale: Int32?, precision: Int32?
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    switch f.id {
                    case 1: scale = try r.readI32(f.type)
                    case 2: precision = try r.readI32(f.type)
                    default: try r.skip(f.type)
                    }
                }
                result = .decimal(scale: try required(scale, "DecimalType.scale"), precision: try required(precision, "DecimalType.precision"))
            case 6: result = .date; try r.skip(f.type)
            case 8:
                var utc: Bool?, unit: TimeUnit?
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    switch f.id {
                    case 1: utc = f.boolValue
                    case 2:
                        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                            switch f.id {
                            case 1: unit = .millis
                            case 2: unit = .micros
                            case 3: unit = .nanos
                            default: break
                            }
                            try r.skip(f.type)
                        }
                    default: try r.skip(f.type)
                    }
                }
                result = .timestamp(adjustedToUTC: try required(utc, "TimestampType.isAdjustedToUTC"), unit: try required(unit, "TimestampType.unit"))
            case 10:
                var bits: Int8?, signed: Bool?
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    switch f.id {
                    case 1: bits = try r.readI8(f.type)
                    case 2: signed = f.boolValue
                    default: try r.skip(f.type)
                    }
                }
                result = .integer(bitWidth: try required(bits, "IntType.bitWidth"), signed: try required(signed, "IntType.isSigned"))
            case 12: result = .json; try r.skip(f.type)
            default: result = .other(f.id); try r.skip(f.type)
            }
        }
        return result
    }
}

extension KeyValue {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> KeyValue {
        var key: String?, value: String?
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: key = try r.readString(f.type)
            case 2: value = try r.readString(f.type)
            default: try r.skip(f.type)
            }
        }
        return KeyValue(key: try required(key, "KeyValue.key"), value: value)
    }
}

extension RowGroup {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> RowGroup {
        var columns: [ColumnChunk]?, total: Int64?, rows: Int64?
        var g = RowGroup(columns: [], totalByteSize: 0, numRows: 0)
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: columns = try r.readList { (r: inout Reader, _: ThriftType) throws(ParquetError) in try ColumnChunk.decode(&r) }
            case 2: total = try r.readI64(f.type)
            case 3: rows = try r.readI64(f.type)
            case 5: g.fileOffset = try r.readI64(f.type)
            case 6: g.totalCompressedSize = try r.readI64(f.type)
            case 7:
                let raw = try r.readI32(f.type)
                g.ordinal = Int16(truncatingIfNeeded: raw)
            default: try r.skip(f.type)
            }
        }
        g.columns = try required(columns, "RowGroup.columns")
        g.totalByteSize = try required(total, "RowGroup.total_byte_size")
        g.numRows = try required(rows, "RowGroup.num_rows")
        return g
    }
}

extension ColumnChunk {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> ColumnChunk {
        var c = ColumnChunk(metaData: nil)
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: c.filePath = try r.readString(f.type)
            case 2: c.fileOffset = try r.readI64(f.type)
            case 3: c.metaData = try ColumnMetaData.decode(&r)
            default: try r.skip(f.type)
            }
        }
        return c
    }
}

extension ColumnMetaData {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> ColumnMetaData {
        var type: PhysicalType?, encodings: [Encoding] = [], path: [String]?, codec: CompressionCodec?
        var numValues: Int64?, uncompressed: Int64?, compressed: Int64?, dataOffset: Int64?
        var dictionaryOffset: Int64?, statistics: Statistics?
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: type = try enumValue(&r, f, "ColumnMetaData.type")
            case 2:
                // Encodings this reader does not know are listed by others; keep the known ones.
                let raw = try r.readList { (r: inout Reader, t: ThriftType) throws(ParquetError) in try r.readI32(t) }
                encodings = raw.compactMap(Encoding.init(rawValue:))
            case 3: path = try r.readList { (r: inout Reader, t: ThriftType) throws(ParquetError) in try r.readString(t) }
            case 4: codec = try enumValue(&r, f, "ColumnMetaData.codec")
            case 5: numValues = try r.readI64(f.type)
            case 6: uncompressed = try r.readI64(f.type)
            case 7: compressed = try r.readI64(f.type)
            case 9: dataOffset = try r.readI64(f.type)
            case 11: dictionaryOffset = try r.readI64(f.type)
            case 12: statistics = try Statistics.decode(&r)
            default: try r.skip(f.type)
            }
        }
        return ColumnMetaData(type: try required(type, "ColumnMetaData.type"), encodings: encodings,
                              pathInSchema: try required(path, "ColumnMetaData.path_in_schema"),
                              codec: try required(codec, "ColumnMetaData.codec"), numValues: try required(numValues, "ColumnMetaData.num_values"),
                              totalUncompressedSize: try required(uncompressed, "ColumnMetaData.total_uncompressed_size"),
                              totalCompressedSize: try required(compressed, "ColumnMetaData.total_compressed_size"),
                              dataPageOffset: try required(dataOffset, "ColumnMetaData.data_page_offset"),
                              dictionaryPageOffset: dictionaryOffset, statistics: statistics)
    }
}

extension Statistics {
    fileprivate static func decode(_ r: inout Reader) throws(ParquetError) -> Statistics {
        var s = Statistics()
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: s.legacyMax = try r.readBinary(f.type)
            case 2: s.legacyMin = try r.readBinary(f.type)
            case 3: s.nullCount = try r.readI64(f.type)
            case 4: s.distinctCount = try r.readI64(f.type)
            case 5: s.maxValue = try r.readBinary(f.type)
            case 6: s.minValue = try r.readBinary(f.type)
            case 7: s.isMaxValueExact = f.boolValue
            case 8: s.isMinValueExact = f.boolValue
            case 9: s.nanCount = try r.readI64(f.type)
            default: try r.skip(f.type)
            }
        }
        return s
    }
}

extension PageHeader {
    /// Decodes a page header starting at `position`; returns it and the position after it.
    static func decode(_ bytes: UnsafeRawBufferPointer, at position: Int) throws(ParquetError) -> (PageHeader, Int) {
        var r = Reader(bytes, position: position)
        var type: PageType?, uncompressed: Int32?, compressed: Int32?
        var h = PageHeader(type: .dataPage, uncompressedPageSize: 0, compressedPageSize: 0)
        try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
            switch f.id {
            case 1: type = try enumValue(&r, f, "PageHeader.type")
            case 2: uncompressed = try r.readI32(f.type)
            case 3: compressed = try r.readI32(f.type)
            case 4: h.crc = try r.readI32(f.type)
            case 5:
                var n: Int32?, e: Encoding?, d: Encoding?, rep: Encoding?
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    switch f.id {
                    case 1: n = try r.readI32(f.type)
                    case 2: e = try enumValue(&r, f, "DataPageHeader.encoding")
                    case 3: d = try enumValue(&r, f, "DataPageHeader.definition_level_encoding")
                    case 4: rep = try enumValue(&r, f, "DataPageHeader.repetition_level_encoding")
                    default: try r.skip(f.type)
                    }
                }
                h.dataPageHeader = DataPageHeader(numValues: try required(n, "DataPageHeader.num_values"),
                                                  encoding: try required(e, "DataPageHeader.encoding"),
                                                  definitionLevelEncoding: d ?? .rle, repetitionLevelEncoding: rep ?? .rle)
            case 7:
                var n: Int32?, e: Encoding?, sorted: Bool?
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    switch f.id {
                    case 1: n = try r.readI32(f.type)
                    case 2: e = try enumValue(&r, f, "DictionaryPageHeader.encoding")
                    case 3: sorted = f.boolValue
                    default: try r.skip(f.type)
                    }
                }
                h.dictionaryPageHeader = DictionaryPageHeader(numValues: try required(n, "DictionaryPageHeader.num_values"),
                                                              encoding: try required(e, "DictionaryPageHeader.encoding"), isSorted: sorted)
            case 8:
                var n: Int32?, nulls: Int32?, rows: Int32?, e: Encoding?, dl: Int32?, rl: Int32?, compressedFlag = true
                try r.readStruct { (r: inout Reader, f: Field) throws(ParquetError) in
                    switch f.id {
                    case 1: n = try r.readI32(f.type)
                    case 2: nulls = try r.readI32(f.type)
                    case 3: rows = try r.readI32(f.type)
                    case 4: e = try enumValue(&r, f, "DataPageHeaderV2.encoding")
                    case 5: dl = try r.readI32(f.type)
                    case 6: rl = try r.readI32(f.type)
                    case 7: compressedFlag = f.boolValue
                    default: try r.skip(f.type)
                    }
                }
                h.dataPageHeaderV2 = DataPageHeaderV2(numValues: try required(n, "DataPageHeaderV2.num_values"),
                                                      numNulls: try required(nulls, "DataPageHeaderV2.num_nulls"),
                                                      numRows: try required(rows, "DataPageHeaderV2.num_rows"),
                                                      encoding: try required(e, "DataPageHeaderV2.encoding"),
                                                      definitionLevelsByteLength: try required(dl, "DataPageHeaderV2.definition_levels_byte_length"),
                                                      repetitionLevelsByteLength: try required(rl, "DataPageHeaderV2.repetition_levels_byte_length"),
                                                      isCompressed: compressedFlag)
            default: try r.skip(f.type)
            }
        }
        h.type = try required(type, "PageHeader.type")
        h.uncompressedPageSize = try required(uncompressed, "PageHeader.uncompressed_page_size")
        h.compressedPageSize = try required(compressed, "PageHeader.compressed_page_size")
        guard h.uncompressedPageSize >= 0, h.compressedPageSize >= 0 else { throw .malformed("negative page size") }
        return (h, r.position)
    }
}
