/// Variable-length UTF-8 strings stored back to back, Arrow style: row `i` is
/// `bytes[offsets[i]..<offsets[i+1]]`. One allocation per column instead of one per value.
public struct StringColumn: Sendable, Equatable {
    public var bytes: [UInt8]
    public var offsets: [Int32]

    public init() {
        bytes = []
        offsets = [0]
    }

    public init(reservingRows rows: Int, bytes byteCapacity: Int) {
        self.init()
        offsets.reserveCapacity(rows + 1)
        bytes.reserveCapacity(byteCapacity)
    }

    public init<S: Sequence>(_ strings: S) where S.Element == String {
        self.init()
        for s in strings { append(s) }
    }

    public var count: Int { offsets.count - 1 }

    @inlinable
    public mutating func append(_ utf8: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: utf8)
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
    }

    public mutating func append(_ string: String) {
        var s = string
        s.withUTF8 { bytes.append(contentsOf: $0) }
        offsets.append(Int32(truncatingIfNeeded: bytes.count))
    }

    public mutating func appendEmpty() { offsets.append(Int32(truncatingIfNeeded: bytes.count)) }

    @inlinable
    public func range(_ row: Int) -> Range<Int> { Int(offsets[row])..<Int(offsets[row + 1]) }

    public subscript(row: Int) -> String {
        String(decoding: bytes[range(row)], as: UTF8.self)
    }

    /// Calls `body` with the bytes of row `row` without copying.
    @inlinable
    public func withBytes<R>(_ row: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let r = range(row)
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[r])) }
    }
}

/// The typed values of one column.
public enum ColumnValues: Sendable, Equatable {
    case bool([Bool])
    case int32([Int32])
    case int64([Int64])
    case float64([Double])
    /// Unscaled values; the scale is in the field's `DataType`.
    case decimal([Int128])
    case string(StringColumn)
    /// Days since 1970-01-01.
    case date([Int32])
    /// Microseconds since 1970-01-01T00:00:00Z.
    case timestamp([Int64])

    public var count: Int {
        switch self {
        case let .bool(v): v.count
        case let .int32(v): v.count
        case let .int64(v): v.count
        case let .float64(v): v.count
        case let .decimal(v): v.count
        case let .string(v): v.count
        case let .date(v): v.count
        case let .timestamp(v): v.count
        }
    }
}

/// One column: values plus validity (`nil` means every value is present).
public struct Column: Sendable, Equatable {
    public var values: ColumnValues
    /// `validity[i] == false` means row `i` is NULL (its slot in `values` holds a placeholder).
    public var validity: [Bool]?

    public init(_ values: ColumnValues, validity: [Bool]? = nil) {
        self.values = values
        self.validity = validity.flatMap { $0.allSatisfy { $0 } ? nil : $0 }
    }

    public var count: Int { values.count }

    @inlinable
    public func isNull(_ row: Int) -> Bool { validity.map { !$0[row] } ?? false }
}
