// Parquet's footer and page headers are Thrift structs in the compact protocol
// (apache/thrift doc/specs/thrift-compact-protocol.md). No Thrift library exists for Swift on
// this platform, so the few pieces Parquet needs are written here by hand.

/// Compact-protocol type codes as they appear in field headers and list headers.
enum ThriftType: UInt8 {
    case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7
    case binary = 8, list = 9, set = 10, map = 11, structure = 12
}

/// Appends Thrift compact-protocol encodings to a byte buffer. Field ids are tracked per struct
/// (each nested struct starts again from 0), so callers write fields in increasing id order and
/// bracket nested structs with `beginStruct`/`endStruct`.
struct ThriftCompactWriter {
    private(set) var bytes: [UInt8] = []
    private var lastFieldID: Int16 = 0
    private var enclosing: [Int16] = []

    init() {}

    // MARK: Fields

    mutating func field(_ id: Int16, i32 value: Int32) {
        fieldHeader(id, .i32)
        varint(zigzag(Int64(value)))
    }

    mutating func field(_ id: Int16, i64 value: Int64) {
        fieldHeader(id, .i64)
        varint(zigzag(value))
    }

    mutating func field(_ id: Int16, i16 value: Int16) {
        fieldHeader(id, .i16)
        varint(zigzag(Int64(value)))
    }

    mutating func field(_ id: Int16, i8 value: Int8) {
        fieldHeader(id, .byte)
        bytes.append(UInt8(bitPattern: value))
    }

    mutating func field(_ id: Int16, bool value: Bool) {
        // A bool field carries its value in the type nibble.
        fieldHeader(id, value ? .boolTrue : .boolFalse)
    }

    mutating func field(_ id: Int16, binary value: some Collection<UInt8>) {
        fieldHeader(id, .binary)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func field(_ id: Int16, string value: String) {
        field(id, binary: Array(value.utf8))
    }

    /// Starts a struct-valued field; end it with `endStruct`.
    mutating func beginStruct(_ id: Int16) {
        fieldHeader(id, .structure)
        enclosing.append(lastFieldID)
        lastFieldID = 0
    }

    /// A struct with no fields (StringType, MicroSeconds, TypeDefinedOrder, …).
    mutating func emptyStruct(_ id: Int16) {
        beginStruct(id)
        endStruct()
    }

    mutating func endStruct() {
        bytes.append(ThriftType.stop.rawValue)
        lastFieldID = enclosing.popLast() ?? 0
    }

    /// Ends the outermost struct being written.
    mutating func stop() {
        bytes.append(ThriftType.stop.rawValue)
    }

    // MARK: Lists

    /// Starts a list-valued field of `count` elements of `element` type; elements follow.
    mutating func beginList(_ id: Int16, of element: ThriftType, count: Int) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count) << 4 | element.rawValue)
        } else {
            bytes.append(0xF0 | element.rawValue)
            varint(UInt64(count))
        }
    }

    mutating func listElement(i32 value: Int32) { varint(zigzag(Int64(value))) }
    mutating func listElement(i64 value: Int64) { varint(zigzag(value)) }

    mutating func listElement(string value: String) {
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// Starts a struct that is a list element; end it with `endStruct`.
    mutating func beginListStruct() {
        enclosing.append(lastFieldID)
        lastFieldID = 0
    }

    // MARK: Encoding

    private mutating func fieldHeader(_ id: Int16, _ type: ThriftType) {
        let delta = Int(id) - Int(lastFieldID)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            varint(zigzag(Int64(id)))
        }
        lastFieldID = id
    }

    private mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private func zigzag(_ v: Int64) -> UInt64 {
        UInt64(bitPattern: (v << 1) ^ (v >> 63))
    }
}
