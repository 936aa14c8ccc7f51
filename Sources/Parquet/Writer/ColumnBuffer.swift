import ConnectorKit

/// The values of one column for the row group being built, already in their physical form, with
/// nulls left out of the values and kept as definition levels.
///
/// The arrays are stored properties of their own, not payloads of an enum: mutating an enum's
/// payload in place keeps a second reference alive (the switch subject) and copies the whole
/// array on every append.
struct ColumnBuffer {
    enum Physical {
        case boolean, int32, int64, double, fixed(width: Int), bytes
    }

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
    let physical: Physical
    private var bools: [Bool] = []
    private var int32s: [Int32] = []
    private var int64s: [Int64] = []
    private var doubles: [Double] = []
    private var fixedBytes: [UInt8] = []
    private var strings = StringColumn()
    /// One per row when the column is optional: 1 present, 0 null. Empty for required columns.
    private(set) var definitionLevels: [UInt8] = []
    private(set) var rows = 0
    private(set) var nullCount = 0

    /// `rows`: the row group's row limit. Room for it is reserved up front: pages of a large
    /// reservation are only mapped when touched, and growing by copying touches them twice.
    init(field: Field, reservingRows rows: Int) {
        self.field = field
        element = TypeMapping.schemaElement(for: field)
        let reserve = min(rows, 1 << 22)
        switch element.type! {
        case .boolean: physical = .boolean; bools.reserveCapacity(reserve)
        case .int32: physical = .int32; int32s.reserveCapacity(reserve)
        case .int64: physical = .int64; int64s.reserveCapacity(reserve)
        case .double: physical = .double; doubles.reserveCapacity(reserve)
        case .fixedLenByteArray:
            let width = Int(element.typeLength!)
            physical = .fixed(width: width)
            fixedBytes.reserveCapacity(reserve * width)
        default:
            physical = .bytes
            strings = StringColumn(reservingRows: reserve, bytes: reserve * 16)
        }
        if field.nullable { definitionLevels.reserveCapacity(reserve) }
    }

    /// The buffered values (a read-only view; no copy is made).
    var values: Values {
        switch physical {
        case .boolean: .boolean(bools)
        case .int32: .int32(int32s)
        case .int64: .int64(int64s)
        case .double: .double(doubles)
        case let .fixed(width): .fixed(width: width, bytes: fixedBytes)
        case .bytes: .bytes(strings)
        }
    }

    var valueCount: Int { rows - nullCount }

    /// Bytes the buffered values take once PLAIN-encoded (the row-group size measure).
    var plainSize: Int {
        switch physical {
        case .boolean: (bools.count + 7) / 8
        case .int32: int32s.count * 4
        case .int64: int64s.count * 8
        case .double: doubles.count * 8
        case .fixed: fixedBytes.count
        case .bytes: strings.bytes.count + 4 * strings.count
        }
    }

    /// Empties the buffer for the next row group, keeping its memory (row groups are alike).
    mutating func removeAll() {
        definitionLevels.removeAll(keepingCapacity: true)
        rows = 0
        nullCount = 0
        bools.removeAll(keepingCapacity: true)
        int32s.removeAll(keepingCapacity: true)
        int64s.removeAll(keepingCapacity: true)
        doubles.removeAll(keepingCapacity: true)
        fixedBytes.removeAll(keepingCapacity: true)
        strings.bytes.removeAll(keepingCapacity: true)
        strings.offsets.removeAll(keepingCapacity: true)
        strings.offsets.append(0)
    }

    /// Empties the buffer and gives its memory back (a row group encoded in the background: the
    /// next one is already filling other buffers).
    mutating func release() {
        definitionLevels = []
        rows = 0
        nullCount = 0
        bools = []
        int32s = []
        int64s = []
        doubles = []
        fixedBytes = []
        strings = StringColumn()
    }

    /// Appends rows `range` of `column` (which must be of this buffer's Sluice type).
    mutating func append(_ column: Column, rows range: Range<Int>) throws(ParquetError) {
        if let validity = column.validity {
            guard field.nullable else {
                if let i = range.first(where: { !validity[$0] }) {
                    throw .invalidInput("column '\(field.name)' is not nullable but row \(i) is null")
                }
                try appendValues(column.values, range)
                rows += range.count
                return
            }
            let present = range.filter { validity[$0] }
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
        switch (source, field.type, physical) {
        case let (.bool(v), .bool, _):
            for i in rows { bools.append(v[i]) }
        case let (.int32(v), .int32, _), let (.date(v), .date, _):
            Self.gather(v, rows, into: &int32s)
        case let (.int64(v), .int64, _), let (.timestamp(v), .timestamp, _):
            Self.gather(v, rows, into: &int64s)
        case let (.float64(v), .float64, _):
            Self.gather(v, rows, into: &doubles)
        case let (.string(s), .string, _):
            s.bytes.withUnsafeBytes { raw in
                for i in rows { strings.append(UnsafeRawBufferPointer(rebasing: raw[s.range(i)])) }
            }
        case let (.decimal(v), .decimal, .int32):
            for i in rows { int32s.append(Int32(truncatingIfNeeded: v[i])) }
        case let (.decimal(v), .decimal, .int64):
            for i in rows { int64s.append(Int64(truncatingIfNeeded: v[i])) }
        case let (.decimal(v), .decimal, .fixed(width)):
            for i in rows { Self.appendBigEndian(v[i], width: width, to: &fixedBytes) }
        default:
            throw .invalidInput("column '\(field.name)' is declared \(field.type) but the batch holds other values")
        }
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
