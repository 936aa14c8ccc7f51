/// The value types a pipeline schema can declare.
///
/// Timestamps are UTC with microsecond precision; dates are days since 1970-01-01;
/// decimals are exact, stored as an unscaled `Int128` with a fixed scale.
public enum DataType: Sendable, Hashable, CustomStringConvertible {
    case bool
    case int32
    case int64
    case float64
    /// Exact decimal with `precision` significant digits (1…38) and `scale` of them after the point.
    case decimal(precision: Int, scale: Int)
    case string
    case date
    case timestamp

    public var description: String {
        switch self {
        case .bool: "bool"
        case .int32: "int32"
        case .int64: "int64"
        case .float64: "float64"
        case let .decimal(p, s): "decimal(\(p),\(s))"
        case .string: "string"
        case .date: "date"
        case .timestamp: "timestamp"
        }
    }

    /// The names accepted in pipeline files, for error messages.
    public static let spelledNames = ["bool", "int32", "int64", "float64", "decimal(p,s)", "string", "date", "timestamp"]

    /// Parses a type name as written in a pipeline file (`"int64"`, `"decimal(10,2)"`, …).
    public init?(parsing text: String) {
        let t = text.lowercased().filter { !$0.isWhitespace }
        switch t {
        case "bool", "boolean": self = .bool
        case "int32", "int", "integer": self = .int32
        case "int64", "bigint", "long": self = .int64
        case "float64", "double", "float": self = .float64
        case "string", "text": self = .string
        case "date": self = .date
        case "timestamp", "datetime": self = .timestamp
        default:
            guard t.hasPrefix("decimal("), t.hasSuffix(")") else { return nil }
            let inner = t.dropFirst("decimal(".count).dropLast()
            let parts = inner.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2, let p = Int(parts[0]), let s = Int(parts[1]),
                  (1...38).contains(p), (0...p).contains(s) else { return nil }
            self = .decimal(precision: p, scale: s)
        }
    }
}

/// One named, typed column of a schema.
public struct Field: Sendable, Hashable {
    public var name: String
    public var type: DataType
    public var nullable: Bool

    public init(_ name: String, _ type: DataType, nullable: Bool = true) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }
}

/// An ordered list of fields.
public struct Schema: Sendable, Hashable {
    public var fields: [Field]

    public init(_ fields: [Field]) { self.fields = fields }

    public var count: Int { fields.count }
    public var names: [String] { fields.map(\.name) }

    /// The position of the field called `name`, if any.
    public func index(of name: String) -> Int? { fields.firstIndex { $0.name == name } }

    /// A schema of `names.count` nullable string fields, as decoders produce.
    public static func strings(_ names: [String]) -> Schema {
        Schema(names.map { Field($0, .string) })
    }
}
