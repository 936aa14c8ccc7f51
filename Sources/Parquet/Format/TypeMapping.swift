import ConnectorKit

/// How each Sluice type is stored: physical type, logical and converted annotations.
enum TypeMapping {
    /// The schema element of a leaf column for `field`.
    static func schemaElement(for field: Field) -> SchemaElement {
        var e = SchemaElement(name: field.name)
        e.repetition = field.nullable ? .optional : .required
        switch field.type {
        case .bool:
            e.type = .boolean
        case .int32:
            e.type = .int32
        case .int64:
            e.type = .int64
        case .float64:
            e.type = .double
        case .string:
            e.type = .byteArray
            e.logicalType = .string
            e.convertedType = .utf8
        case .date:
            e.type = .int32
            e.logicalType = .date
            e.convertedType = .date
        case .timestamp:
            e.type = .int64
            e.logicalType = .timestamp(adjustedToUTC: true, unit: .micros)
            e.convertedType = .timestampMicros
        case let .decimal(precision, scale):
            switch decimalStorage(precision: precision) {
            case .int32: e.type = .int32
            case .int64: e.type = .int64
            case let .fixed(width):
                e.type = .fixedLenByteArray
                e.typeLength = Int32(width)
            }
            e.logicalType = .decimal(scale: Int32(scale), precision: Int32(precision))
            e.convertedType = .decimal
            e.scale = Int32(scale)
            e.precision = Int32(precision)
        }
        return e
    }

    enum DecimalStorage: Equatable {
        case int32, int64, fixed(Int)
    }

    /// INT32 up to 9 digits, INT64 up to 18, else the fewest bytes of two's complement that hold
    /// every value of `precision` digits (LogicalTypes.md).
    static func decimalStorage(precision: Int) -> DecimalStorage {
        if precision <= 9 { return .int32 }
        if precision <= 18 { return .int64 }
        return .fixed(fixedWidth(precision: precision))
    }

    static func fixedWidth(precision: Int) -> Int {
        var largest: UInt128 = 1
        for _ in 0..<precision { largest *= 10 }
        largest -= 1
        var n = 1
        while n < 16 && largest >= (UInt128(1) << UInt128(8 * n - 1)) { n += 1 }
        return n
    }

    /// The Sluice type a column is read as, or why it cannot be.
    static func dataType(of e: SchemaElement) throws(ParquetError) -> DataType {
        guard let physical = e.type else { throw .unsupported("column '\(e.name)' is a group (nested columns are not read)") }
        if let decimal = decimalAnnotation(e) {
            guard (1...38).contains(decimal.precision), (0...decimal.precision).contains(decimal.scale) else {
                throw .unsupported("column '\(e.name)': decimal(\(decimal.precision),\(decimal.scale)) is outside decimal(1…38, 0…precision)")
            }
            switch physical {
            case .int32, .int64, .fixedLenByteArray, .byteArray: return .decimal(precision: decimal.precision, scale: decimal.scale)
            default: throw .malformed("column '\(e.name)': DECIMAL on \(physical)")
            }
        }
        switch physical {
        case .boolean: return .bool
        case .int32:
            if e.logicalType == .date || e.convertedType == .date { return .date }
            if case let .integer(_, signed)? = e.logicalType, !signed { return .int64 }
            if e.convertedType == .uint32 { return .int64 }
            return .int32
        case .int64:
            if timestampUnit(e) != nil { return .timestamp }
            if case .integer(_, false)? = e.logicalType {
                throw .unsupported("column '\(e.name)': unsigned 64-bit integers do not fit Sluice's int64")
            }
            return .int64
        case .float, .double: return .float64
        case .byteArray: return .string
        case .fixedLenByteArray: throw .unsupported("column '\(e.name)': FIXED_LEN_BYTE_ARRAY without a DECIMAL annotation")
        case .int96: throw .unsupported("column '\(e.name)': INT96 timestamps (deprecated) are not read")
        }
    }

    static func decimalAnnotation(_ e: SchemaElement) -> (precision: Int, scale: Int)? {
        if case let .decimal(scale, precision)? = e.logicalType { return (Int(precision), Int(scale)) }
        if e.convertedType == .decimal, let p = e.precision { return (Int(p), Int(e.scale ?? 0)) }
        return nil
    }

    static func timestampUnit(_ e: SchemaElement) -> TimeUnit? {
        if case let .timestamp(_, unit)? = e.logicalType { return unit }
        switch e.convertedType {
        case .timestampMicros?: return .micros
        case .timestampMillis?: return .millis
        default: return nil
        }
    }
}
