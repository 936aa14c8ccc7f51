/// One value, for tests, the in-memory source and row-wise sinks. Hot paths use columns.
public enum Value: Sendable, Hashable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    /// Unscaled value and scale.
    case decimal(Int128, scale: Int)
    case string(String)
    /// Days since 1970-01-01.
    case date(Int32)
    /// Microseconds since the epoch, UTC.
    case timestamp(Int64)

    public var description: String {
        switch self {
        case .null: "null"
        case let .bool(b): "\(b)"
        case let .int(i): "\(i)"
        case let .double(d): "\(d)"
        case let .decimal(v, s): DecimalText.format(v, scale: s)
        case let .string(s): s
        case let .date(d): CivilDate.format(days: d)
        case let .timestamp(t): CivilDate.formatTimestamp(micros: t)
        }
    }
}

extension RecordBatch {
    /// The value at (`row`, `column`), boxed. For tests and slow paths.
    public func value(row: Int, column c: Int) -> Value {
        let col = columns[c]
        if col.isNull(row) { return .null }
        switch col.values {
        case let .bool(a): return .bool(a[row])
        case let .int32(a): return .int(Int64(a[row]))
        case let .int64(a): return .int(a[row])
        case let .float64(a): return .double(a[row])
        case let .decimal(a):
            if case let .decimal(_, s) = schema.fields[c].type { return .decimal(a[row], scale: s) }
            return .decimal(a[row], scale: 0)
        case let .string(s): return .string(s[row])
        case let .date(a): return .date(a[row])
        case let .timestamp(a): return .timestamp(a[row])
        }
    }

    /// All rows as dictionaries keyed by field name. For tests.
    public func rows() -> [[String: Value]] {
        (0..<count).map { r in
            var d: [String: Value] = [:]
            for (i, f) in schema.fields.enumerated() { d[f.name] = value(row: r, column: i) }
            return d
        }
    }
}

/// Text formatting of decimals, shared by sinks.
public enum DecimalText {
    public static func format(_ unscaled: Int128, scale: Int) -> String {
        let negative = unscaled < 0
        var digits = String(unscaled.magnitude)
        if scale > 0 {
            if digits.count <= scale { digits = String(repeating: "0", count: scale - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return negative ? "-" + digits : digits
    }
}
