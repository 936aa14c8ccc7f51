/// Why a Parquet file could not be written or read.
public enum ParquetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file breaks the format: a clear statement of what and where.
    case malformed(String)
    /// Valid Parquet that this reader does not handle (nested columns, an encoding, a codec).
    case unsupported(String)
    /// The caller's data does not fit the schema, or an option is out of range.
    case invalidInput(String)
    /// Reading or writing the file failed.
    case io(String)

    public var description: String {
        switch self {
        case let .malformed(m): "not a valid Parquet file: \(m)"
        case let .unsupported(m): "unsupported Parquet feature: \(m)"
        case let .invalidInput(m): m
        case let .io(m): m
        }
    }
}
