// Thrift compact encoding of the footer and page headers, field ids from parquet.thrift.

extension FileMetaData {
    func encoded() -> [UInt8] {
        var w = ThriftCompactWriter()
        w.field(1, i32: version)
        w.beginList(2, of: .structure, count: schema.count)
        for element in schema { element.encode(&w) }
        w.field(3, i64: numRows)
        w.beginList(4, of: .structure, count: rowGroups.count)
        for group in rowGroups { group.encode(&w) }
        if let keyValueMetadata {
            w.beginList(5, of: .structure, count: keyValueMetadata.count)
            for kv in keyValueMetadata { kv.encode(&w) }
        }
        if let createdBy { w.field(6, string: createdBy) }
        if let columnOrders {
            w.beginList(7, of: .structure, count: columnOrders.count)
            for order in columnOrders {
                w.beginListStruct()
                switch order {
                case .typeDefined: w.emptyStruct(1)
                case let .other(id): w.emptyStruct(id)
                }
                w.endStruct()
            }
        }
        w.stop()
        return w.bytes
    }
}

extension SchemaElement {
    fileprivate func encode(_ w: inout ThriftCompactWriter) {
        w.beginListStruct()
        if let type { w.field(1, i32: type.rawValue) }
        if let typeLength { w.field(2, i32: typeLength) }
        if let repetition { w.field(3, i32: repetition.rawValue) }
        w.field(4, string: name)
        if let numChildren { w.field(5, i32: numChildren) }
        if let convertedType { w.field(6, i32: convertedType.rawValue) }
        if let scale { w.field(7, i32: scale) }
        if let precision { w.field(8, i32: precision) }
        if let fieldID { w.field(9, i32: fieldID) }
        if let logicalType {
            w.beginStruct(10)
            switch logicalType {
            case .string: w.emptyStruct(1)
            case .enumeration: w.emptyStruct(4)
            case let .decimal(scale, precision):
                w.beginStruct(5)
                w.field(1, i32: scale)
                w.field(2, i32: precision)
                w.endStruct()
            case .date: w.emptyStruct(6)
            case let .timestamp(utc, unit):
                w.beginStruct(8)
                w.field(1, bool: utc)
                w.beginStruct(2)
                switch unit {
                case .millis: w.emptyStruct(1)
                case .micros: w.emptyStruct(2)
                case .nanos: w.emptyStruct(3)
                }
                w.endStruct()
                w.endStruct()
            case let .integer(bits, signed):
                w.beginStruct(10)
                w.field(1, i8: bits)
                w.field(2, bool: signed)
                w.endStruct()
            case .json: w.emptyStruct(12)
            case let .other(id): w.emptyStruct(id)
            }
            w.endStruct()
        }
        w.endStruct()
    }
}

extension KeyValue {
    fileprivate func encode(_ w: inout ThriftCompactWriter) {
        w.beginListStruct()
        w.field(1, string: key)
        if let value { w.field(2, string: value) }
        w.endStruct()
    }
}

extension RowGroup {
    fileprivate func encode(_ w: inout ThriftCompactWriter) {
        w.beginListStruct()
        w.beginList(1, of: .structure, count: columns.count)
        for chunk in columns { chunk.encode(&w) }
        w.field(2, i64: totalByteSize)
        w.field(3, i64: numRows)
        if let fileOffset { w.field(5, i64: fileOffset) }
        if let totalCompressedSize { w.field(6, i64: totalCompressedSize) }
        if let ordinal { w.field(7, i16: ordinal) }
        w.endStruct()
    }
}

extension ColumnChunk {
    fileprivate func encode(_ w: inout ThriftCompactWriter) {
        w.beginListStruct()
        if let filePath { w.field(1, string: filePath) }
        w.field(2, i64: fileOffset)
        if let metaData {
            w.beginStruct(3)
            metaData.encode(&w)
            w.endStruct()
        }
        w.endStruct()
    }
}

extension ColumnMetaData {
    fileprivate func encode(_ w: inout ThriftCompactWriter) {
        w.field(1, i32: type.rawValue)
        w.beginList(2, of: .i32, count: encodings.count)
        for e in encodings { w.listElement(i32: e.rawValue) }
        w.beginList(3, of: .binary, count: pathInSchema.count)
        for p in pathInSchema { w.listElement(string: p) }
        w.field(4, i32: codec.rawValue)
        w.field(5, i64: numValues)
        w.field(6, i64: totalUncompressedSize)
        w.field(7, i64: totalCompressedSize)
        w.field(9, i64: dataPageOffset)
        if let dictionaryPageOffset { w.field(11, i64: dictionaryPageOffset) }
        if let statistics {
            w.beginStruct(12)
            statistics.encode(&w)
            w.endStruct()
        }
    }
}

extension Statistics {
    /// Writes only the current fields; the deprecated `min`/`max` (signed order) never.
    fileprivate func encode(_ w: inout ThriftCompactWriter) {
        if let nullCount { w.field(3, i64: nullCount) }
        if let distinctCount { w.field(4, i64: distinctCount) }
        if let maxValue { w.field(5, binary: maxValue) }
        if let minValue { w.field(6, binary: minValue) }
        if let isMaxValueExact { w.field(7, bool: isMaxValueExact) }
        if let isMinValueExact { w.field(8, bool: isMinValueExact) }
        if let nanCount { w.field(9, i64: nanCount) }
    }
}

extension PageHeader {
    func encoded() -> [UInt8] {
        var w = ThriftCompactWriter()
        w.field(1, i32: type.rawValue)
        w.field(2, i32: uncompressedPageSize)
        w.field(3, i32: compressedPageSize)
        if let crc { w.field(4, i32: crc) }
        if let h = dataPageHeader {
            w.beginStruct(5)
            w.field(1, i32: h.numValues)
            w.field(2, i32: h.encoding.rawValue)
            w.field(3, i32: h.definitionLevelEncoding.rawValue)
            w.field(4, i32: h.repetitionLevelEncoding.rawValue)
            w.endStruct()
        }
        if let h = dictionaryPageHeader {
            w.beginStruct(7)
            w.field(1, i32: h.numValues)
            w.field(2, i32: h.encoding.rawValue)
            if let sorted = h.isSorted { w.field(3, bool: sorted) }
            w.endStruct()
        }
        if let h = dataPageHeaderV2 {
            w.beginStruct(8)
            w.field(1, i32: h.numValues)
            w.field(2, i32: h.numNulls)
            w.field(3, i32: h.numRows)
            w.field(4, i32: h.encoding.rawValue)
            w.field(5, i32: h.definitionLevelsByteLength)
            w.field(6, i32: h.repetitionLevelsByteLength)
            w.field(7, bool: h.isCompressed)
            w.endStruct()
        }
        w.stop()
        return w.bytes
    }
}
