import ConnectorKit
import CoreConnectors

/// PostgreSQL's binary COPY format: constants and the SQL type of each schema type. Encoding is
/// `PostgresCopyEncoder`. Hand-written: there is no library for it here, and the format is small
/// (header, per row a field count and length-prefixed big-endian values, trailer).
enum PostgresBinaryCopy {
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    static let trailer: [UInt8] = [0xFF, 0xFF]
    /// Microseconds and days between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
    static let epochMicros: Int64 = 946_684_800_000_000
    static let epochDays: Int32 = 10957

    /// The SQL type a schema type is stored as.
    static func sqlType(_ t: DataType) -> String {
        switch t {
        case .bool: "boolean"
        case .int32: "integer"
        case .int64: "bigint"
        case .float64: "double precision"
        case let .decimal(p, s): "numeric(\(p),\(s))"
        case .string: "text"
        case .date: "date"
        case .timestamp: "timestamp with time zone"
        }
    }
}
