import ConnectorKit

/// Decodes the pages of one flat column chunk into a Sluice column, checking every count and
/// length against the bytes that are there.
struct ChunkDecoder {
    /// Present values in physical form, nulls left out.
    enum Physical {
        case boolean([Bool])
        case int32([Int32])
        case int64([Int64])
        case float([Float])
        case double([Double])
        /// BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY values.
        case bytes(StringColumn)

        var count: Int {
            switch self {
            case let .boolean(v): v.count
            case let .int32(v): v.count
            case let .int64(v): v.count
            case let .float(v): v.count
            case let .double(v): v.count
            case let .bytes(v): v.count
            }
        }
    }

    let leaf: SchemaElement
    let field: Field
    let rows: Int
    private(set) var rowsRead = 0
    private var values: Physical
    private var dictionary: Physical?
    /// One per row read so far, for optional columns: 1 present, 0 null.
    private var levels: [UInt32] = []

    init(leaf: SchemaElement, field: Field, rows: Int) {
        self.leaf = leaf
        self.field = field
        self.rows = rows
        values = Self.empty(leaf.type!)
    }

    private static func empty(_ type: PhysicalType) -> Physical {
        switch type {
        case .boolean: .boolean([])
        case .int32: .int32([])
        case .int64: .int64([])
        case .float: .float([])
        case .double: .double([])
        default: .bytes(StringColumn())
        }
    }

    mutating func readDictionary(_ page: UnsafeRawBufferPointer, header: DictionaryPageHeader) throws(ParquetError) {
        guard dictionary == nil else { throw .malformed("a second dictionary page") }
        guard rowsRead == 0 else { throw .malformed("the dictionary page comes after data pages") }
        guard header.encoding == .plain || header.encoding == .plainDictionary else { throw .unsupported("dictionary page encoding \(header.encoding)") }
        guard header.numValues >= 0 else { throw .malformed("dictionary of \(header.numValues) entries") }
        var d = Self.empty(leaf.type!)
        _ = try Self.decodePlain(page, count: Int(header.numValues), type: leaf.type!, width: Int(leaf.typeLength ?? 0), into: &d)
        dictionary = d
    }

    mutating func readDataPage(_ page: UnsafeRawBufferPointer, values n: Int, encoding: Encoding, optional: Bool) throws(ParquetError) {
        guard n >= 0, n <= rows - rowsRead else { throw .malformed("a page of \(n) values where \(rows - rowsRead) remain") }
        var position = 0
        var present = n
        if optional {
            guard page.count >= 4 else { throw .malformed("page too short for its definition levels") }
            let length = Int(Plain.read(UInt32.self, page, at: 0))
            guard length <= page.count - 4 else { throw .malformed("definition levels of \(length) bytes exceed the page") }
            present = try readLevels(UnsafeRawBufferPointer(rebasing: page[4..<(4 + length)]), count: n)
            position = 4 + length
        }
        try readValues(UnsafeRawBufferPointer(rebasing: page[position...]), count: present, encoding: encoding)
        rowsRead += n
    }

    mutating func readDataPageV2(_ page: UnsafeRawBufferPointer, values n: Int, nulls: Int, levelBytes: Int, encoding: Encoding, optional: Bool) throws(ParquetError) {
        guard n >= 0, n <= rows - rowsRead else { throw .malformed("a page of \(n) values where \(rows - rowsRead) remain") }
        var present = n
        if optional {
            present = try readLevels(UnsafeRawBufferPointer(rebasing: page[0..<levelBytes]), count: n)
            guard n - present == nulls else { throw .malformed("page v2 says \(nulls) nulls, its levels \(n - present)") }
        } else if nulls != 0 {
            throw .malformed("a required column's page has \(nulls) nulls")
        }
        try readValues(UnsafeRawBufferPointer(rebasing: page[levelBytes...]), count: present, encoding: encoding)
        rowsRead += n
    }

    /// Decodes `count` definition levels (max level 1); returns how many are present.
    private mutating func readLevels(_ bytes: UnsafeRawBufferPointer, count: Int) throws(ParquetError) -> Int {
        let before = levels.count
        try RLEHybrid.decode(bytes, bitWidth: 1, count: count, into: &levels)
        var present = 0
        for i in before..<levels.count { present += Int(levels[i]) }
        return present
    }

    private mutating func readValues(_ bytes: UnsafeRawBufferPointer, count: Int, encoding: Encoding) throws(ParquetError) {
        switch encoding {
        case .plain:
            _ = try Self.decodePlain(bytes, count: count, type: leaf.type!, width: Int(leaf.typeLength ?? 0), into: &values)
        case .plainDictionary, .rleDictionary:
            guard count > 0 else { return }
            guard let dictionary else { throw .malformed("dictionary-encoded page without a dictionary page") }
            guard bytes.count >= 1 else { throw .malformed("dictionary-encoded page without its bit width") }
            var indices: [UInt32] = []
            try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: bytes[1...]), bitWidth: Int(bytes[0]), count: count, into: &indices)
            try Self.gather(dictionary, indices, into: &values)
        case .rle:
            guard case var .boolean(out) = values else { throw .unsupported("RLE encoding for \(leaf.type!) values") }
            guard bytes.count >= 4 else { throw .malformed("RLE boolean page too short") }
            let length = Int(Plain.read(UInt32.self, bytes, at: 0))
            guard length <= bytes.count - 4 else { throw .malformed("RLE boolean data of \(length) bytes exceeds the page") }
            var decoded: [UInt32] = []
            try RLEHybrid.decode(UnsafeRawBufferPointer(rebasing: bytes[4..<(4 + length)]), bitWidth: 1, count: count, into: &decoded)
            values = .boolean([])
            out.append(contentsOf: decoded.lazy.map { $0 != 0 })
            values = .boolean(out)
        default:
            throw .unsupported("\(encoding) encoding")
        }
    }

    /// Appends `count` PLAIN values; returns the bytes consumed.
    static func decodePlain(_ bytes: UnsafeRawBufferPointer, count: Int, type: PhysicalType, width: Int, into out: inout Physical) throws(ParquetError) -> Int {
        switch out {
        case var .boolean(v):
            out = .boolean([])
            v.append(contentsOf: try Plain.readBooleans(bytes, count: count))
            out = .boolean(v)
            return (count + 7) / 8
        case var .int32(v):
            out = .int32([])
            v.append(contentsOf: try Plain.readAll(Int32.self, bytes, count: count))
            out = .int32(v)
            return count * 4
        case var .int64(v):
            out = .int64([])
            v.append(contentsOf: try Plain.readAll(Int64.self, bytes, count: count))
            out = .int64(v)
            return count * 8
        case var .float(v):
            out = .float([])
            v.append(contentsOf: try Plain.readAll(UInt32.self, bytes, count: count).map(Float.init(bitPattern:)))
            out = .float(v)
            return count * 4
        case var .double(v):
            out = .double([])
            v.append(contentsOf: try Plain.readAll(UInt64.self, bytes, count: count).map(Double.init(bitPattern:)))
            out = .double(v)
            return count * 8
        case var .bytes(s):
            out = .bytes(StringColumn())
            defer { out = .bytes(s) }
            var position = 0
            if type == .fixedLenByteArray {
                guard width > 0, count <= bytes.count / width else { throw .malformed("PLAIN page holds \(bytes.count) bytes for \(count) values of \(width)") }
                for i in 0..<count { s.append(UnsafeRawBufferPointer(rebasing: bytes[(i * width)..<((i + 1) * width)])) }
                return count * width
            }
            guard count <= bytes.count / 4 else { throw .malformed("PLAIN page holds \(bytes.count) bytes for \(count) byte arrays") }
            for _ in 0..<count {
                guard bytes.count - position >= 4 else { throw .malformed("PLAIN byte array length past the end of the page") }
                let length = Int(Plain.read(UInt32.self, bytes, at: position))
                position += 4
                guard length <= bytes.count - position else { throw .malformed("PLAIN byte array of \(length) bytes past the end of the page") }
                s.append(UnsafeRawBufferPointer(rebasing: bytes[position..<(position + length)]))
                position += length
            }
            return position
        }
    }

    private static func gather(_ dictionary: Physical, _ indices: [UInt32], into out: inout Physical) throws(ParquetError) {
        let size = dictionary.count
        if let bad = indices.first(where: { Int($0) >= size }) {
            throw .malformed("dictionary index \(bad) with \(size) entries")
        }
        switch (dictionary, out) {
        case let (.boolean(d), .boolean(v)):
            out = .boolean([])
            out = .boolean(v + indices.map { d[Int($0)] })
        case (let .int32(d), var .int32(v)):
            out = .int32([])
            v.reserveCapacity(v.count + indices.count)
            for i in indices { v.append(d[Int(i)]) }
            out = .int32(v)
        case (let .int64(d), var .int64(v)):
            out = .int64([])
            v.reserveCapacity(v.count + indices.count)
            for i in indices { v.append(d[Int(i)]) }
            out = .int64(v)
        case (let .float(d), var .float(v)):
            out = .float([])
            for i in indices { v.append(d[Int(i)]) }
            out = .float(v)
        case (let .double(d), var .double(v)):
            out = .double([])
            v.reserveCapacity(v.count + indices.count)
            for i in indices { v.append(d[Int(i)]) }
            out = .double(v)
        case (let .bytes(d), var .bytes(v)):
            out = .bytes(StringColumn())
            d.bytes.withUnsafeBytes { raw in
                for i in indices { v.append(UnsafeRawBufferPointer(rebasing: raw[d.range(Int(i))])) }
            }
            out = .bytes(v)
        default:
            throw .malformed("dictionary and pages of different types")
        }
    }

    /// The column read, as Sluice values with validity.
    func finish() throws(ParquetError) -> Column {
        guard rowsRead == rows else { throw .malformed("\(rowsRead) values read, \(rows) expected") }
        let present = values.count
        let optional = leaf.repetition != .required
        guard present == (optional ? levels.reduce(0) { $0 + Int($1) } : rows) else {
            throw .malformed("\(present) values for \(rows) rows and their definition levels")
        }
        let validity: [Bool]? = optional && present < rows ? levels.map { $0 != 0 } : nil
        // Index of the value for each row (nulls get a placeholder).
        func expand<T>(_ v: [T], placeholder: T) -> [T] {
            guard let validity else { return v }
            var out: [T] = []
            out.reserveCapacity(rows)
            var k = 0
            for present in validity {
                if present { out.append(v[k]); k += 1 } else { out.append(placeholder) }
            }
            return out
        }
        switch (field.type, values) {
        case let (.bool, .boolean(v)):
            return Column(.bool(expand(v, placeholder: false)), validity: validity)
        case let (.int32, .int32(v)):
            return Column(.int32(expand(v, placeholder: 0)), validity: validity)
        case let (.int64, .int32(v)):
            return Column(.int64(expand(v.map { Int64(UInt32(bitPattern: $0)) }, placeholder: 0)), validity: validity)
        case let (.int64, .int64(v)):
            return Column(.int64(expand(v, placeholder: 0)), validity: validity)
        case let (.date, .int32(v)):
            return Column(.date(expand(v, placeholder: 0)), validity: validity)
        case let (.timestamp, .int64(v)):
            let micros: [Int64]
            switch TypeMapping.timestampUnit(leaf) {
            case .millis?:
                micros = try v.map { (x: Int64) throws(ParquetError) -> Int64 in
                    let (r, o) = x.multipliedReportingOverflow(by: 1000)
                    guard !o else { throw .unsupported("timestamp \(x) ms is beyond the microsecond range") }
                    return r
                }
            case .nanos?: micros = v.map { $0 >= 0 ? $0 / 1000 : ($0 - 999) / 1000 }
            default: micros = v
            }
            return Column(.timestamp(expand(micros, placeholder: 0)), validity: validity)
        case let (.float64, .double(v)):
            return Column(.float64(expand(v, placeholder: 0)), validity: validity)
        case let (.float64, .float(v)):
            return Column(.float64(expand(v.map(Double.init), placeholder: 0)), validity: validity)
        case let (.decimal, .int32(v)):
            return Column(.decimal(expand(v.map { Int128($0) }, placeholder: 0)), validity: validity)
        case let (.decimal, .int64(v)):
            return Column(.decimal(expand(v.map { Int128($0) }, placeholder: 0)), validity: validity)
        case let (.decimal, .bytes(s)):
            var out: [Int128] = []
            out.reserveCapacity(s.count)
            for i in 0..<s.count {
                let r = s.range(i)
                guard r.count >= 1, r.count <= 16 else { throw .unsupported("decimal of \(r.count) bytes") }
                var x = Int128(Int8(bitPattern: s.bytes[r.lowerBound]))
                for k in (r.lowerBound + 1)..<r.upperBound { x = x << 8 | Int128(s.bytes[k]) }
                out.append(x)
            }
            return Column(.decimal(expand(out, placeholder: 0)), validity: validity)
        case let (.string, .bytes(s)):
            let valid = s.bytes.withUnsafeBytes { UTF8Validation.isValid($0) }
            guard valid else { throw .unsupported("text that is not valid UTF-8") }
            guard let validity else { return Column(.string(s)) }
            var out = StringColumn(reservingRows: rows, bytes: s.bytes.count)
            var k = 0
            s.bytes.withUnsafeBytes { raw in
                for present in validity {
                    if present { out.append(UnsafeRawBufferPointer(rebasing: raw[s.range(k)])); k += 1 } else { out.appendEmpty() }
                }
            }
            return Column(.string(out), validity: validity)
        default:
            throw .malformed("values of physical type \(leaf.type!) cannot be read as \(field.type)")
        }
    }
}
