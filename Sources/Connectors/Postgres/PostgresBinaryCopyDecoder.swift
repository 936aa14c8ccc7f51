import ConnectorKit
import CoreConnectors

/// A column of a PostgreSQL table as Sluice reads it back: its SQL type and the Sluice type it maps to.
package struct PostgresColumn: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case bool, int2, int4, int8, float4, float8, numeric(scale: Int), text, date, timestamp
    }

    package var name: String
    package var sqlType: String
    package var notNull: Bool
    package var kind: Kind
    package var type: DataType

    package init(name: String, sqlType: String, notNull: Bool, kind: Kind, type: DataType) {
        self.name = name
        self.sqlType = sqlType
        self.notNull = notNull
        self.kind = kind
        self.type = type
    }

    /// The mapping of `format_type()` output to Sluice types; nil for types Sluice does not carry.
    package static func mapping(sqlType: String) -> (Kind, DataType)? {
        switch sqlType {
        case "boolean": return (.bool, .bool)
        case "smallint": return (.int2, .int32)
        case "integer": return (.int4, .int32)
        case "bigint": return (.int8, .int64)
        case "real": return (.float4, .float64)
        case "double precision": return (.float8, .float64)
        case "text": return (.text, .string)
        case "date": return (.date, .date)
        case "timestamp with time zone", "timestamp without time zone": return (.timestamp, .timestamp)
        default:
            if sqlType.hasPrefix("character varying") || sqlType.hasPrefix("character(") || sqlType == "character" {
                return (.text, .string)
            }
            if sqlType.hasPrefix("numeric("), sqlType.hasSuffix(")") {
                let parts = sqlType.dropFirst("numeric(".count).dropLast().split(separator: ",")
                guard parts.count == 2, let p = Int(parts[0]), let s = Int(parts[1]), (1...38).contains(p), (0...p).contains(s) else { return nil }
                return (.numeric(scale: s), .decimal(precision: p, scale: s))
            }
            return nil
        }
    }
}

/// Decodes `COPY … TO STDOUT (FORMAT binary)` into record batches, from pieces as they arrive.
package struct PostgresBinaryCopyDecoder {
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    package let columns: [PostgresColumn]
    package let schema: Schema
    private var pending: [UInt8] = []
    private var headerDone = false
    package private(set) var finished = false
    private var builders: [Builder]
    package private(set) var rowsInBatch = 0

    package init(columns: [PostgresColumn]) {
        self.columns = columns
        schema = Schema(columns.map { Field($0.name, $0.type, nullable: !$0.notNull) })
        builders = columns.map { Builder(kind: $0.kind) }
    }

    /// Adds a piece of COPY data and decodes every complete row in it.
    package mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        pending.append(contentsOf: bytes)
        let data = pending
        let consumed: Result<Int, Failure> = data.withUnsafeBytes { raw in Result { () throws(Failure) -> Int in try parse(raw) } }
        let position = try consumed.get()
        if position > 0 { pending.removeFirst(position) }
    }

    /// Decodes the complete rows at the start of `raw`; returns the bytes they took.
    private mutating func parse(_ raw: UnsafeRawBufferPointer) throws(Failure) -> Int {
        var position = 0
        do {
            if !headerDone {
                guard raw.count >= 19 else { return position }
                guard Array(raw[0..<11]) == PostgresBinaryCopy.header.prefix(11).map({ $0 }) else { throw Failure(description: "COPY data does not start with the binary signature") }
                let extensionLength = Int(Self.int32(raw, 15))
                guard extensionLength >= 0 else { throw Failure(description: "negative header extension") }
                guard raw.count >= 19 + extensionLength else { return position }
                position = 19 + extensionLength
                headerDone = true
            }
            while position + 2 <= raw.count {
                let fields = Int(Self.int16(raw, position))
                if fields == -1 { finished = true; position += 2; return position }
                guard fields == columns.count else { throw Failure(description: "a row of \(fields) fields for \(columns.count) columns") }
                // Is the whole row here?
                var p = position + 2
                var complete = true
                for _ in 0..<fields {
                    guard p + 4 <= raw.count else { complete = false; break }
                    let length = Int(Self.int32(raw, p))
                    p += 4
                    if length > 0 {
                        guard p + length <= raw.count else { complete = false; break }
                        p += length
                    }
                }
                guard complete else { return position }
                var q = position + 2
                for c in 0..<fields {
                    let length = Int(Self.int32(raw, q))
                    q += 4
                    if length < 0 {
                        builders[c].appendNull()
                    } else {
                        try builders[c].append(UnsafeRawBufferPointer(rebasing: raw[q..<(q + length)]), column: columns[c].name)
                        q += length
                    }
                }
                position = p
                rowsInBatch += 1
            }
        }
        return position
    }

    /// The rows decoded since the last call, as a batch (nil when none).
    package mutating func takeBatch() -> RecordBatch? {
        guard rowsInBatch > 0 else { return nil }
        let cols = builders.indices.map { builders[$0].take() }
        let n = rowsInBatch
        rowsInBatch = 0
        return RecordBatch(schema: schema, columns: cols, origins: RecordOrigins(file: "copy", lines: Array(1...Int64(n)), byteOffsets: [Int64](repeating: -1, count: n)))
    }

    package static func int16(_ raw: UnsafeRawBufferPointer, _ at: Int) -> Int16 { Int16(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: Int16.self)) }
    package static func int32(_ raw: UnsafeRawBufferPointer, _ at: Int) -> Int32 { Int32(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: Int32.self)) }
    package static func int64(_ raw: UnsafeRawBufferPointer, _ at: Int) -> Int64 { Int64(bigEndian: raw.loadUnaligned(fromByteOffset: at, as: Int64.self)) }

    /// One column's values as they are decoded.
    package struct Builder {
        let kind: PostgresColumn.Kind
        var bools: [Bool] = []
        var int32s: [Int32] = []
        var int64s: [Int64] = []
        var doubles: [Double] = []
        var decimals: [Int128] = []
        var strings = StringColumn()
        var validity: [Bool] = []
        var nulls = 0

        init(kind: PostgresColumn.Kind) { self.kind = kind }

        mutating func appendNull() {
            validity.append(false)
            nulls += 1
            switch kind {
            case .bool: bools.append(false)
            case .int2, .int4, .date: int32s.append(0)
            case .int8, .timestamp: int64s.append(0)
            case .float4, .float8: doubles.append(0)
            case .numeric: decimals.append(0)
            case .text: strings.appendEmpty()
            }
        }

        mutating func append(_ v: UnsafeRawBufferPointer, column: String) throws(Failure) {
            func need(_ n: Int) throws(Failure) {
                guard v.count == n else { throw Failure(description: "column \(column): \(v.count) bytes for a value of \(n)") }
            }
            validity.append(true)
            switch kind {
            case .bool: try need(1); bools.append(v[0] != 0)
            case .int2: try need(2); int32s.append(Int32(PostgresBinaryCopyDecoder.int16(v, 0)))
            case .int4: try need(4); int32s.append(PostgresBinaryCopyDecoder.int32(v, 0))
            case .date: try need(4); int32s.append(PostgresBinaryCopyDecoder.int32(v, 0) &+ PostgresBinaryCopy.epochDays)
            case .int8: try need(8); int64s.append(PostgresBinaryCopyDecoder.int64(v, 0))
            case .timestamp: try need(8); int64s.append(PostgresBinaryCopyDecoder.int64(v, 0) &+ PostgresBinaryCopy.epochMicros)
            case .float4: try need(4); doubles.append(Double(Float(bitPattern: UInt32(bitPattern: PostgresBinaryCopyDecoder.int32(v, 0)))))
            case .float8: try need(8); doubles.append(Double(bitPattern: UInt64(bitPattern: PostgresBinaryCopyDecoder.int64(v, 0))))
            case .text: strings.append(v)
            case let .numeric(scale): decimals.append(try Self.numeric(v, scale: scale, column: column))
            }
        }

        /// `numeric` binary (ndigits, weight, sign, dscale, base-10000 digits) as an unscaled
        /// value at `scale`.
        static func numeric(_ v: UnsafeRawBufferPointer, scale: Int, column: String) throws(Failure) -> Int128 {
            guard v.count >= 8 else { throw Failure(description: "column \(column): a numeric of \(v.count) bytes") }
            let ndigits = Int(PostgresBinaryCopyDecoder.int16(v, 0)), weight = Int(PostgresBinaryCopyDecoder.int16(v, 2))
            let sign = UInt16(bitPattern: PostgresBinaryCopyDecoder.int16(v, 4))
            guard sign == 0 || sign == 0x4000 else { throw Failure(description: "column \(column): NaN or infinity in a numeric column") }
            guard ndigits >= 0, v.count == 8 + 2 * ndigits else { throw Failure(description: "column \(column): malformed numeric") }
            func digit(_ i: Int) -> Int128 { Int128(PostgresBinaryCopyDecoder.int16(v, 8 + 2 * i)) }
            // The value is digits × 10^power. Digits below the scale must be zero; they are cut
            // before accumulating, as the padding of the last digit would overflow 38 digits.
            var power = 4 * (weight - ndigits + 1) + scale
            var n = ndigits
            while power <= -4 && n > 0 {
                guard digit(n - 1) == 0 else { throw Failure(description: "column \(column): a numeric with more decimals than its scale \(scale)") }
                n -= 1
                power += 4
            }
            var acc: Int128 = 0
            for i in 0..<n {
                var d = digit(i), width: Int128 = 10000
                if i == n - 1 && power < 0 {
                    let cut: Int128 = power == -1 ? 10 : power == -2 ? 100 : 1000
                    guard d % cut == 0 else { throw Failure(description: "column \(column): a numeric with more decimals than its scale \(scale)") }
                    d /= cut
                    width /= cut
                    power = 0
                }
                let (m, o1) = acc.multipliedReportingOverflow(by: width)
                let (a, o2) = m.addingReportingOverflow(d)
                guard !o1, !o2 else { throw Failure(description: "column \(column): numeric beyond 38 digits") }
                acc = a
            }
            while power > 0 {
                let (m, o) = acc.multipliedReportingOverflow(by: 10)
                guard !o else { throw Failure(description: "column \(column): numeric beyond 38 digits") }
                acc = m
                power -= 1
            }
            return sign == 0x4000 ? -acc : acc
        }

        mutating func take() -> Column {
            let valid = nulls > 0 ? validity : nil
            defer {
                bools = []; int32s = []; int64s = []; doubles = []; decimals = []; strings = StringColumn(); validity = []; nulls = 0
            }
            switch kind {
            case .bool: return Column(.bool(bools), validity: valid)
            case .int2, .int4: return Column(.int32(int32s), validity: valid)
            case .date: return Column(.date(int32s), validity: valid)
            case .int8: return Column(.int64(int64s), validity: valid)
            case .timestamp: return Column(.timestamp(int64s), validity: valid)
            case .float4, .float8: return Column(.float64(doubles), validity: valid)
            case .numeric: return Column(.decimal(decimals), validity: valid)
            case .text: return Column(.string(strings), validity: valid)
            }
        }
    }
}
