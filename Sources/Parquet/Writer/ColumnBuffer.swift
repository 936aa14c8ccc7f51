import ConnectorKit

/// The values of one column for the row group being built, already in their physical form, with
/// nulls left out of the values and kept as definition levels.
struct ColumnBuffer {
    enum Values {
        case boolean([Bool])
        case int32([Int32])
        case int64([Int64])
        case double([Double])
        /// FIXED_LEN_BYTE_ARRAY values back to back (big-endian two's complement decimals).
        case fixed(width: Int, bytes: [UInt8])
        case bytes(StringColumn)
    }

    let field: Field
    let element: SchemaElement
    var values: Values
    /// One per row when the column is optional: 1 present, 0 null. Empty for required columns.
    var definitionLevels: [UInt32] = []
    var rows = 0
    var nullCount = 0

    init(field: Field) {
        self.field = field
        element = TypeMapping.schemaElement(for: field)
        switch element.type! {
        case .boolean: values = .boolean([])
        case .int32: values = .int32([])
        case .int64: values = .int64([])
        case .double: values = .double([])
        case .fixedLenByteArray: values = .fixed(width: Int(element.typeLength!), bytes: [])
        default: values = .bytes(StringColumn())
        }
    }

    var valueCount: Int { rows - nullCount }

    /// Bytes the buffered values take once PLAIN-encoded (the row-group size measure).
    var plainSize: Int {
        switch values {
        case let .boolean(v): (v.count + 7) / 8
        case let .int32(v): v.count * 4
        case let .int64(v): v.count * 8
        case let .double(v): v.count * 8
        case let .fixed(_, b): b.count
        case let .bytes(s): s.bytes.count + 4 * s.count
        }
    }

    /// Empties the buffer for the next row group, keeping its memory (row groups are alike).
    mutating func removeAll() {
        definitionLevels.removeAll(keepingCapacity: true)
        rows = 0
        nullCount = 0
        switch values {
        case var .boolean(v): values = .int32([]); v.removeAll(keepingCapacity: true); values = .boolean(v)
        case var .int32(v): values = .boolean([]); v.removeAll(keepingCapacity: true); values = .int32(v)
        case var .int64(v): values = .boolean([]); v.removeAll(keepingCapacity: true); values = .int64(v)
        case var .double(v): values = .boolean([]); v.removeAll(keepingCapacity: true); values = .double(v)
        case .fixed(let w, var b): values = .boolean([]); b.removeAll(keepingCapacity: true); values = .fixed(width: w, bytes: b)
        case var .bytes(s):
            values = .boolean([])
            s.bytes.removeAll(keepingCapacity: true)
            s.offsets.removeAll(keepingCapacity: true)
            s.offsets.append(0)
            values = .bytes(s)
        }
    }

    /// Appends rows `range` of `column` (which must be of this buffer's Sluice type).
    mutating func append(_ column: Column, rows range: Range<Int>) throws(ParquetError) {
        if let validity = column.validity {
            guard field.nullable else {
                if let i = range.first(where: { !validity[$0] }) {
                    throw .invalidInput("column '\(field.name)' is not nullable but row \(i) is null")
                }
                try appendValues(column.values, range.lazy.map { $0 })
                rows += range.count
                return
            }
            let present = range.filter { validity[$0] }
            definitionLevels.reserveCapacity(definitionLevels.count + range.count)
            for i in range { definitionLevels.append(validity[i] ? 1 : 0) }
            nullCount += range.count - present.count
            try appendValues(column.values, present)
        } else {
            if field.nullable { definitionLevels.append(contentsOf: repeatElement(1, count: range.count)) }
            try appendValues(column.values, range)
        }
        rows += range.count
    }

    private mutating func appendValues<C: Collection<Int>>(_ source: ColumnValues, _ rows: C) throws(ParquetError) {
        switch (source, field.type) {
        case let (.bool(v), .bool):
            guard case var .boolean(out) = values else { break }
            values = .boolean([])
            for i in rows { out.append(v[i]) }
            values = .boolean(out)
            return
        case let (.int32(v), .int32), let (.date(v), .date):
            guard case var .int32(out) = values else { break }
            values = .int32([])
            Self.gather(v, rows, into: &out)
            values = .int32(out)
            return
        case let (.int64(v), .int64), let (.timestamp(v), .timestamp):
            guard case var .int64(out) = values else { break }
            values = .int64([])
            Self.gather(v, rows, into: &out)
            values = .int64(out)
            return
        case let (.float64(v), .float64):
            guard case var .double(out) = values else { break }
            values = .double([])
            Self.gather(v, rows, into: &out)
            values = .double(out)
            return
        case let (.string(s), .string):
            guard case var .bytes(out) = values else { break }
            values = .bytes(StringColumn())
            s.bytes.withUnsafeBytes { raw in
                for i in rows {
                    let r = s.range(i)
                    out.append(UnsafeRawBufferPointer(rebasing: raw[r]))
                }
            }
            values = .bytes(out)
            return
        case let (.decimal(v), .decimal):
            switch values {
            case var .int32(out):
                values = .int32([])
                for i in rows { out.append(Int32(truncatingIfNeeded: v[i])) }
                values = .int32(out)
            case var .int64(out):
                values = .int64([])
                for i in rows { out.append(Int64(truncatingIfNeeded: v[i])) }
                values = .int64(out)
            case .fixed(let width, var out):
                values = .fixed(width: width, bytes: [])
                for i in rows { Self.appendBigEndian(v[i], width: width, to: &out) }
                values = .fixed(width: width, bytes: out)
            default: break
            }
            return
        default:
            break
        }
        throw .invalidInput("column '\(field.name)' is declared \(field.type) but the batch holds other values")
    }

    private static func gather<T, C: Collection<Int>>(_ source: [T], _ rows: C, into out: inout [T]) {
        if let r = rows as? Range<Int> {
            out.append(contentsOf: source[r])
        } else {
            out.reserveCapacity(out.count + rows.count)
            for i in rows { out.append(source[i]) }
        }
    }

    /// The low `width` bytes of `value`, most significant first (two's complement).
    static func appendBigEndian(_ value: Int128, width: Int, to out: inout [UInt8]) {
        let bits = UInt128(bitPattern: value)
        for k in stride(from: width - 1, through: 0, by: -1) {
            out.append(UInt8(truncatingIfNeeded: bits >> UInt128(8 * k)))
        }
    }
}
