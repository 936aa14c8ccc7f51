/// Reads Thrift compact-protocol structs from untrusted bytes: every length is checked against
/// what is left, nesting is bounded, and unknown fields are skipped, so a malformed footer is an
/// error, never a crash or an unbounded allocation.
struct ThriftCompactReader {
    private let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    private var depth = 0
    private static let maxDepth = 32

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    struct FieldHeader {
        var id: Int16
        var type: ThriftType
        /// For bool fields, the value (it travels in the type nibble).
        var boolValue: Bool { type == .boolTrue }
    }

    /// Reads the fields of a struct, calling `body` for each; `body` must consume the field's
    /// value (or call `skip`).
    mutating func readStruct(_ body: (inout ThriftCompactReader, FieldHeader) throws(ParquetError) -> Void) throws(ParquetError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw malformed("structs nested more than \(Self.maxDepth) deep") }
        defer { depth -= 1 }
        var lastID: Int16 = 0
        while true {
            let header = try byte()
            if header == 0 { return }
            guard let type = ThriftType(rawValue: header & 0x0F) else { throw malformed("unknown field type \(header & 0x0F)") }
            let delta = header >> 4
            let id: Int16
            if delta == 0 {
                let raw = try zigzagVarint()
                guard let narrow = Int16(exactly: raw) else { throw malformed("field id \(raw) out of range") }
                id = narrow
            } else {
                id = lastID &+ Int16(delta)
            }
            lastID = id
            try body(&self, FieldHeader(id: id, type: type))
        }
    }

    /// Reads a list header: element type and count (checked to be plausible for what is left).
    mutating func readListHeader() throws(ParquetError) -> (ThriftType, Int) {
        let header = try byte()
        guard let type = ThriftType(rawValue: header & 0x0F) else { throw malformed("unknown list element type \(header & 0x0F)") }
        var count = Int(header >> 4)
        if count == 15 {
            let raw = try varint()
            guard raw <= UInt64(Int32.max) else { throw malformed("list of \(raw) elements") }
            count = Int(raw)
        }
        // Every element takes at least one byte, except bools packed... which also take one.
        guard count <= bytes.count - position else { throw malformed("list of \(count) elements in \(bytes.count - position) bytes") }
        return (type, count)
    }

    mutating func readList<T>(_ element: (inout ThriftCompactReader, ThriftType) throws(ParquetError) -> T) throws(ParquetError) -> [T] {
        let (type, count) = try readListHeader()
        var out: [T] = []
        out.reserveCapacity(count)
        for _ in 0..<count { out.append(try element(&self, type)) }
        return out
    }

    mutating func readI32(_ type: ThriftType) throws(ParquetError) -> Int32 {
        guard type == .i32 || type == .i16 || type == .byte else { throw malformed("expected an i32, found type \(type)") }
        if type == .byte { return Int32(Int8(bitPattern: try byte())) }
        let v = try zigzagVarint()
        guard let narrow = Int32(exactly: v) else { throw malformed("i32 value \(v) out of range") }
        return narrow
    }

    mutating func readI64(_ type: ThriftType) throws(ParquetError) -> Int64 {
        guard type == .i64 || type == .i32 || type == .i16 else { throw malformed("expected an i64, found type \(type)") }
        return try zigzagVarint()
    }

    mutating func readI8(_ type: ThriftType) throws(ParquetError) -> Int8 {
        guard type == .byte else { throw malformed("expected a byte, found type \(type)") }
        return Int8(bitPattern: try byte())
    }

    mutating func readBinary(_ type: ThriftType) throws(ParquetError) -> [UInt8] {
        guard type == .binary else { throw malformed("expected binary, found type \(type)") }
        let length = try varint()
        guard length <= UInt64(bytes.count - position) else { throw malformed("binary of \(length) bytes past the end") }
        let start = position
        position += Int(length)
        return Array(bytes[start..<position])
    }

    mutating func readString(_ type: ThriftType) throws(ParquetError) -> String {
        String(decoding: try readBinary(type), as: UTF8.self)
    }

    /// A bool as a list element (one byte); as a field it is `FieldHeader.boolValue`.
    mutating func readBoolElement() throws(ParquetError) -> Bool {
        // Implementations disagree on false (0 or 2); true is 1 everywhere.
        try byte() == 1
    }

    /// Skips a value of `type`.
    mutating func skip(_ type: ThriftType) throws(ParquetError) {
        switch type {
        case .stop: throw malformed("unexpected stop")
        case .boolTrue, .boolFalse: return
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double: try advance(8)
        case .binary: _ = try readBinary(.binary)
        case .list, .set:
            let (element, count) = try readListHeader()
            depth += 1
            defer { depth -= 1 }
            guard depth <= Self.maxDepth else { throw malformed("lists nested more than \(Self.maxDepth) deep") }
            for _ in 0..<count {
                if element == .boolTrue || element == .boolFalse { _ = try byte() } else { try skip(element) }
            }
        case .map:
            let count = try varint()
            guard count > 0 else { return }
            guard count <= UInt64(bytes.count - position) else { throw malformed("map of \(count) entries past the end") }
            let kinds = try byte()
            guard let key = ThriftType(rawValue: kinds >> 4), let value = ThriftType(rawValue: kinds & 0x0F) else {
                throw malformed("unknown map types")
            }
            for _ in 0..<count {
                try skip(key)
                try skip(value)
            }
        case .structure:
            try readStruct { (r: inout ThriftCompactReader, f: FieldHeader) throws(ParquetError) in try r.skip(f.type) }
        }
    }

    // MARK: Primitives

    private mutating func byte() throws(ParquetError) -> UInt8 {
        guard position < bytes.count else { throw malformed("ends early") }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func advance(_ n: Int) throws(ParquetError) {
        guard n <= bytes.count - position else { throw malformed("ends early") }
        position += n
    }

    private mutating func varint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw malformed("varint longer than 10 bytes") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    private mutating func zigzagVarint() throws(ParquetError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    private func malformed(_ message: String) -> ParquetError {
        .malformed("Thrift structure at byte \(position): \(message)")
    }
}
